#include "common/config_flags.h"

namespace quantd {

ConfigFlags::ConfigFlags(CLI::App& app, const ConfigSchema& schema)
    : app_(app) {
  CLI::Option_group* group = app.add_option_group("Configuration");
  group->add_option("--config", config_file_, "YAML configuration file");
  for (const ConfigKey& key : schema.keys()) {
    std::string& slot = storage_[key.name];
    group->add_option("--" + key.name, slot,
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
