#include "common/config.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "yaml-cpp/yaml.h"

namespace quantd {
namespace {

ConfigKey MakeKey(std::string name, ConfigType type, std::string default_value,
                  std::string help) {
  ConfigKey key;
  key.name = std::move(name);
  key.type = type;
  key.default_value = std::move(default_value);
  key.help = std::move(help);
  return key;
}

// Flattens a YAML map into dotted keys; scalars only at the leaves.
absl::Status FlattenYaml(const YAML::Node& node, const std::string& prefix,
                         const std::string& file,
                         std::map<std::string, std::string>* out) {
  for (const auto& entry : node) {
    // as<std::string>() would throw for a list or map used as a key.
    if (!entry.first.IsScalar()) {
      return InvalidFieldError(
          prefix.empty() ? "config" : prefix,
          absl::StrCat("in ", file, ": keys must be plain names"));
    }
    const std::string key = entry.first.Scalar();
    const std::string name = prefix.empty() ? key : prefix + "." + key;
    const YAML::Node& value = entry.second;
    if (value.IsMap()) {
      QUANTD_RETURN_IF_ERROR(FlattenYaml(value, name, file, out));
    } else if (value.IsScalar()) {
      (*out)[name] = value.Scalar();
    } else {
      return InvalidFieldError(
          name, absl::StrCat("in ", file, ": must be a scalar or a map"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, std::string>> ReadYaml(
    const std::string& file) {
  std::map<std::string, std::string> out;
  if (file.empty()) return out;
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("config file ", file, ": ", e.what()));
  }
  if (root.IsNull()) return out;
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config file ", file, ": top level must be a map"));
  }
  QUANTD_RETURN_IF_ERROR(FlattenYaml(root, "", file, &out));
  return out;
}

std::map<std::string, std::string>::const_iterator FindEitherSpelling(
    const std::map<std::string, std::string>& values, const std::string& name) {
  auto it = values.find(name);
  if (it != values.end()) return it;
  return values.find(ConfigSchema::AlternateSpelling(name));
}

std::string Describe(const std::string& source, const std::string& name) {
  if (source == "env") return ConfigSchema::EnvName(name);
  if (source == "flag") return "--" + name;
  return name;
}

absl::Status CheckRange(const ConfigKey& key, double value,
                        const std::string& where) {
  if ((key.min && value < *key.min) || (key.max && value > *key.max)) {
    return InvalidFieldError(
        where, absl::StrCat("must be in [", key.min ? *key.min : -1e308, ", ",
                            key.max ? *key.max : 1e308, "], got ", value));
  }
  return absl::OkStatus();
}

}  // namespace

ConfigSchema& ConfigSchema::AddString(std::string name,
                                      std::string default_value,
                                      std::string help,
                                      std::vector<std::string> choices) {
  ConfigKey key = MakeKey(std::move(name), ConfigType::kString,
                          std::move(default_value), std::move(help));
  key.choices = std::move(choices);
  keys_.push_back(std::move(key));
  return *this;
}

ConfigSchema& ConfigSchema::AddInt(std::string name, int64_t default_value,
                                   std::string help, std::optional<int64_t> min,
                                   std::optional<int64_t> max) {
  ConfigKey key = MakeKey(std::move(name), ConfigType::kInt,
                          absl::StrCat(default_value), std::move(help));
  if (min) key.min = static_cast<double>(*min);
  if (max) key.max = static_cast<double>(*max);
  keys_.push_back(std::move(key));
  return *this;
}

ConfigSchema& ConfigSchema::AddDouble(std::string name, double default_value,
                                      std::string help,
                                      std::optional<double> min,
                                      std::optional<double> max) {
  ConfigKey key = MakeKey(std::move(name), ConfigType::kDouble,
                          absl::StrCat(default_value), std::move(help));
  key.min = min;
  key.max = max;
  keys_.push_back(std::move(key));
  return *this;
}

ConfigSchema& ConfigSchema::AddBool(std::string name, bool default_value,
                                    std::string help) {
  keys_.push_back(MakeKey(std::move(name), ConfigType::kBool,
                          default_value ? "true" : "false", std::move(help)));
  return *this;
}

const ConfigKey* ConfigSchema::Find(const std::string& name) const {
  const std::string alternate = AlternateSpelling(name);
  for (const ConfigKey& key : keys_) {
    if (key.name == name || key.name == alternate) return &key;
  }
  return nullptr;
}

std::string ConfigSchema::AlternateSpelling(const std::string& name) {
  std::string alternate = name;
  for (char& c : alternate) {
    if (c == '-') {
      c = '_';
    } else if (c == '_') {
      c = '-';
    }
  }
  return alternate;
}

std::string ConfigSchema::EnvName(const std::string& name) {
  std::string env = "QUANTD_";
  for (char c : name) {
    env += (c == '.' || c == '-') ? '_' : absl::ascii_toupper(c);
  }
  return env;
}

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

absl::StatusOr<Config> Config::Load(
    const ConfigSchema& schema, const std::map<std::string, std::string>& flags,
    const EnvLookup& env, const std::string& file) {
  QUANTD_ASSIGN_OR_RETURN(auto file_values, ReadYaml(file));
  for (const auto& [name, unused] : file_values) {
    if (schema.Find(name) == nullptr) {
      return InvalidFieldError(name, absl::StrCat("unknown key in ", file));
    }
  }
  for (const auto& [name, unused] : flags) {
    if (schema.Find(name) == nullptr) {
      return InvalidFieldError(name, "unknown flag");
    }
  }
  Config config;
  for (const ConfigKey& key : schema.keys()) {
    Value value{key.type, key.default_value, 0, 0, false, "default"};
    if (auto it = flags.find(key.name); it != flags.end()) {
      value.text = it->second;
      value.source = "flag";
    } else if (auto from_env = env(ConfigSchema::EnvName(key.name))) {
      value.text = *from_env;
      value.source = "env";
    } else if (auto it = FindEitherSpelling(file_values, key.name);
               it != file_values.end()) {
      value.text = it->second;
      value.source = "file";
    }
    const std::string where = Describe(value.source, key.name);
    switch (key.type) {
      case ConfigType::kString:
        if (!key.choices.empty() &&
            std::find(key.choices.begin(), key.choices.end(), value.text) ==
                key.choices.end()) {
          return InvalidFieldError(
              where,
              absl::StrCat("must be one of {", absl::StrJoin(key.choices, ", "),
                           "}, got \"", value.text, "\""));
        }
        break;
      case ConfigType::kInt:
        if (!absl::SimpleAtoi(value.text, &value.int_value)) {
          return InvalidFieldError(
              where, absl::StrCat("not an integer: \"", value.text, "\""));
        }
        QUANTD_RETURN_IF_ERROR(
            CheckRange(key, static_cast<double>(value.int_value), where));
        break;
      case ConfigType::kDouble:
        if (!absl::SimpleAtod(value.text, &value.double_value)) {
          return InvalidFieldError(
              where, absl::StrCat("not a number: \"", value.text, "\""));
        }
        QUANTD_RETURN_IF_ERROR(CheckRange(key, value.double_value, where));
        break;
      case ConfigType::kBool:
        if (!absl::SimpleAtob(value.text, &value.bool_value)) {
          return InvalidFieldError(
              where, absl::StrCat("not a boolean: \"", value.text, "\""));
        }
        break;
    }
    config.values_.emplace(key.name, std::move(value));
  }
  return config;
}

const Config::Value& Config::Get(const std::string& name,
                                 ConfigType type) const {
  auto it = values_.find(name);
  QUANTD_CHECK(it != values_.end());
  QUANTD_CHECK(it->second.type == type);
  return it->second;
}

const std::string& Config::GetString(const std::string& name) const {
  return Get(name, ConfigType::kString).text;
}
int64_t Config::GetInt(const std::string& name) const {
  return Get(name, ConfigType::kInt).int_value;
}
double Config::GetDouble(const std::string& name) const {
  return Get(name, ConfigType::kDouble).double_value;
}
bool Config::GetBool(const std::string& name) const {
  return Get(name, ConfigType::kBool).bool_value;
}
const std::string& Config::SourceOf(const std::string& name) const {
  auto it = values_.find(name);
  QUANTD_CHECK(it != values_.end());
  return it->second.source;
}

}  // namespace quantd
