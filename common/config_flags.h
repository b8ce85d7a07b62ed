// Bridges a ConfigSchema to CLI11: one --<key> flag per schema key plus
// --config FILE, so every binary exposes the same keys as flags, environment
// variables and file entries.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "common/config.h"

namespace quantd {

// Holds the flag values CLI11 parses into; keep it alive until Given().
class ConfigFlags {
 public:
  // Registers the flags on `app` (as an option group named "Configuration").
  ConfigFlags(CLI::App& app, const ConfigSchema& schema);

  // After app.parse(): only the flags present on the command line.
  std::map<std::string, std::string> Given() const;
  const std::string& config_file() const { return config_file_; }

 private:
  CLI::App& app_;
  std::map<std::string, std::string> storage_;  // Node-stable for CLI11.
  std::string config_file_;
};

}  // namespace quantd
