// Quantization scheme presets as the engine's quantizer configs: the
// grammar and mapping of a scheme name ("w4a4", "w8a8-pt", "w4a16-g128")
// live in contract/scheme_preset.h, shared with quantd and quantctl;
// ParseScheme turns that preset into QuantConfigs with the OS+ conventions
// (narrow symmetric grid, zero inclusion; methods that follow OmniQuant or
// OS change those fields).
#pragma once

#include <string>
#include <string_view>

#include "contract/scheme_preset.h"
#include "worker/engine/quant/quant_config.h"

namespace quantd::engine::quant {

struct QuantScheme {
  // Canonical lower-case spelling, e.g. "w4a16-g128".
  std::string name;
  int weight_bits = 0;
  // 16 when activations are not quantized.
  int activation_bits = 0;
  // 0 when no -g suffix was given.
  int64_t group_size = 0;
  bool per_tensor_activations = false;
  QuantConfig weight;
  // enabled == false for A16.
  QuantConfig activation;
};

// Parses `text`; throws ConfigError whose field() is "scheme" (malformed or
// conflicting suffixes), "weight_bits", "activation_bits" or "group_size".
QuantScheme ParseScheme(std::string_view text);

// The engine's configs for a resolved scheme (contract::ResolveScheme or
// ParseSchemePreset): the contract's settings, the OS+ grid conventions.
QuantScheme FromContract(const contract::SchemePreset& preset);

// The contract's view of a config (what the export rules read).
contract::TensorScheme ToContract(const QuantConfig& config);

}  // namespace quantd::engine::quant
