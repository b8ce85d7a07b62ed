// Fuzz target: quantd-worker's configuration (worker/agent/worker_config.h)
// through common/config.h: the input is the YAML config file, and each of
// its "key=value" lines is also given as a command-line flag. Whatever
// loads must translate into WorkerOptions and TLS options, or fail with a
// status.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/strings/str_split.h"
#include "common/config.h"
#include "fuzz/fuzz_scratch.h"
#include "worker/agent/worker_config.h"

namespace {

std::map<std::string, std::string> FlagsOf(const std::string& text) {
  std::map<std::string, std::string> flags;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    const size_t equals = line.find('=');
    if (equals == absl::string_view::npos) continue;
    flags[std::string(line.substr(0, equals))] =
        std::string(line.substr(equals + 1));
  }
  return flags;
}

void Translate(const quantd::Config& config) {
  (void)quantd::agent::WorkerOptionsFromConfig(config, "fuzz-host");
  (void)quantd::agent::TlsOptionsFromConfig(config);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const quantd::fuzz::ScratchDir scratch;
  static const quantd::ConfigSchema schema =
      quantd::agent::WorkerConfigSchema();
  const std::string file = scratch.Write("worker.yaml", data, size);
  const auto no_env = [](const std::string&) -> std::optional<std::string> {
    return std::nullopt;
  };
  if (auto config = quantd::Config::Load(schema, {}, no_env, file);
      config.ok()) {
    Translate(*config);
  }
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (auto config = quantd::Config::Load(schema, FlagsOf(text), no_env, "");
      config.ok()) {
    Translate(*config);
  }
  return 0;
}
