// Configuration for the quantd binaries: a schema of typed keys, filled from
// (highest precedence first) command-line flags, environment variables and a
// YAML file, then validated. Every error names the key and its source.
//
//   ConfigSchema schema;
//   schema.AddString("listen", "127.0.0.1:7070", "gRPC listen address");
//   schema.AddInt("lease.timeout_seconds", 30, "...", /*min=*/1, /*max=*/3600);
//   QUANTD_ASSIGN_OR_RETURN(Config config,
//                           Config::Load(schema, flags, env, file));
//
// Keys may be spelled with '-' or '_' interchangeably on the command line and
// in files. Environment names are QUANTD_ + the key upper-cased with '.' and
// '-' as
// '_' (lease.timeout_seconds -> QUANTD_LEASE_TIMEOUT_SECONDS). YAML files may
// nest maps; nested keys join with '.'.
//
// Thread-safety: a loaded Config is immutable and safe to share.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace quantd {

enum class ConfigType { kString, kInt, kDouble, kBool };

struct ConfigKey {
  std::string name;
  ConfigType type = ConfigType::kString;
  std::string default_value;
  std::string help;
  // Inclusive bounds for kInt and kDouble.
  std::optional<double> min;
  std::optional<double> max;
  // For kString: allowed values (empty: any).
  std::vector<std::string> choices;
};

class ConfigSchema {
 public:
  ConfigSchema& AddString(std::string name, std::string default_value,
                          std::string help,
                          std::vector<std::string> choices = {});
  ConfigSchema& AddInt(std::string name, int64_t default_value,
                       std::string help, std::optional<int64_t> min = {},
                       std::optional<int64_t> max = {});
  ConfigSchema& AddDouble(std::string name, double default_value,
                          std::string help, std::optional<double> min = {},
                          std::optional<double> max = {});
  ConfigSchema& AddBool(std::string name, bool default_value, std::string help);

  const std::vector<ConfigKey>& keys() const { return keys_; }
  const ConfigKey* Find(const std::string& name) const;

  // `name` with '-' and '_' swapped: flags and file keys accept either
  // spelling (data-dir / data_dir), which name the same key.
  static std::string AlternateSpelling(const std::string& name);

  // The environment variable that sets `name`.
  static std::string EnvName(const std::string& name);

 private:
  std::vector<ConfigKey> keys_;
};

// Looks up an environment variable; returns nullopt when unset. Injected so
// tests need not touch the process environment.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup ProcessEnv();

class Config {
 public:
  // `flags` holds only the flags given on the command line, by key name.
  // `file` is a YAML file path or empty.
  [[nodiscard]] static absl::StatusOr<Config> Load(
      const ConfigSchema& schema,
      const std::map<std::string, std::string>& flags, const EnvLookup& env,
      const std::string& file);

  // Getters on keys of the schema; asking for an unknown key or the wrong
  // type is a programmer error (QUANTD_CHECK).
  const std::string& GetString(const std::string& name) const;
  int64_t GetInt(const std::string& name) const;
  double GetDouble(const std::string& name) const;
  bool GetBool(const std::string& name) const;
  // "flag", "env", "file" or "default".
  const std::string& SourceOf(const std::string& name) const;

 private:
  struct Value {
    ConfigType type;
    std::string text;
    int64_t int_value = 0;
    double double_value = 0;
    bool bool_value = false;
    std::string source;
  };
  const Value& Get(const std::string& name, ConfigType type) const;

  std::map<std::string, Value> values_;
};

}  // namespace quantd
