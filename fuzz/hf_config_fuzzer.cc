// Fuzz target: the engine's config.json parser (ParseHfConfig in
// worker/engine/io/hf_config.h), which reads a tenant's model before any
// tensor. It may only throw FormatError; a config it accepts must describe
// a model the engine can build (positive sizes, heads that divide).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "worker/engine/io/format_error.h"
#include "worker/engine/io/hf_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace io = quantd::engine::io;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const io::ModelConfig config = io::ParseHfConfig(text, "config.json");
    if (config.hidden_size <= 0 || config.num_layers <= 0 ||
        config.num_heads <= 0 || config.vocab_size <= 0) {
      std::abort();
    }
  } catch (const io::FormatError&) {
    // The expected outcome for a bad config.
  }
  return 0;
}
