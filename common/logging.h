// Logging for the quantd binaries: spdlog loggers, one per subsystem, that
// share one sink and one format (human text or JSON lines), with a level per
// component that can be changed at runtime.
//
//   QUANTD_ASSIGN_OR_RETURN(auto logs, LoggerFactory::Create({.format = "json",
//                                       .levels = "info,store=debug"}));
//   auto log = logs->Get("store");   // pass it to the store's constructor
//   log->info("job={} state={}", id, state);
//
// Thread-safety: LoggerFactory and the loggers are safe to use from any
// thread.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "spdlog/logger.h"

namespace quantd {

struct LogOptions {
  // "text" or "json".
  std::string format = "text";
  // A default level and per-component overrides: "info,store=debug,api=warn".
  // Levels: trace, debug, info, warn, error, critical, off.
  std::string levels = "info";
  // Write to this file instead of stderr when non-empty.
  std::string file;
};

class LoggerFactory {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<LoggerFactory>> Create(
      const LogOptions& options);

  // The logger of `component`, created on first use.
  std::shared_ptr<spdlog::logger> Get(const std::string& component);

  // Changes levels at runtime, same syntax as LogOptions::levels.
  [[nodiscard]] absl::Status SetLevels(const std::string& levels);

 private:
  LoggerFactory() = default;
  spdlog::level::level_enum LevelFor(const std::string& component) const;

  std::mutex mu_;
  spdlog::sink_ptr sink_;
  spdlog::level::level_enum default_level_ = spdlog::level::info;
  std::map<std::string, spdlog::level::level_enum> levels_;
  std::map<std::string, std::shared_ptr<spdlog::logger>> loggers_;
};

}  // namespace quantd
