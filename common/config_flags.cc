#include "common/config_flags.h"

namespace quantd {

ConfigFlags::ConfigFlags(CLI::App& app, const ConfigSchema& schema)
    : app_(app) {
  CLI::Option_group* group = app.add_option_group("Configuration");
  group->add_option("--config", config_file_, "YAML configuration file");
  for (const ConfigKey& key : schema.keys()) {
    std::string& slot = storage_[key.name];
    // Both spellings work: --data-dir and --data_dir name the same key.
    std::string names = "--" + key.name;
    const std::string alternate = ConfigSchema::AlternateSpelling(key.name);
    if (alternate != key.name) names += ",--" + alternate;
    group->add_option(names, slot,
                      key.help + " (env " + ConfigSchema::EnvName(key.name) +
                          ", default " + key.default_value + ")");
  }
}

std::map<std::string, std::string> ConfigFlags::Given() const {
  std::map<std::string, std::string> given;
  for (const auto& [name, value] : storage_) {
    if (app_.count("--" + name) > 0) given[name] = value;
  }
  return given;
}

}  // namespace quantd
