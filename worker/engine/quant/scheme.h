// Quantization scheme presets: parses a scheme string such as "w4a4",
// "w8a8-pt" or "w4a16-g128" into a weight QuantConfig and an activation
// QuantConfig, following docs/ALGORITHMS.md §1.5.
//
// Grammar (case-insensitive): w<W>a<A>[-pt][-g<N>]
//   W in [2, 8]; A in [2, 8] or 16 (16 = activations not quantized);
//   -pt: per-tensor static activations (needs A < 16, excludes -g);
//   -g<N>: group size N > 0 along the input dimension.
//
// Mapping (the rationale is in docs/QUANTIZERS.md):
//   w8a8          weights per-channel symmetric (OS+ narrow grid, Δ =
//                 absmax/127, i.e. SmoothQuant's LLaMA setting); activations
//                 per-token symmetric dynamic. Symmetric at 8 bits because
//                 that is how SmoothQuant's W8A8 (the common baseline at this
//                 width) is defined; asymmetry buys little at 8 bits.
//   w8a8-pt       OS+ INT8* (int8.yaml): weights per-tensor symmetric MinMax;
//                 activations per-tensor symmetric static AvgMinMax.
//   wXaY, Y < 16  (w6a6, w4a4, ...) OS+ fine-grained LLaMA configs
//                 (int{4,6}_token*.yaml): weights per-channel asymmetric
//                 MinMax; activations per-token asymmetric dynamic.
//   wXaY-pt       OS+ INT6 (int6.yaml): weights per-channel asymmetric
//                 MinMax; activations per-tensor asymmetric static
//                 AvgMinMax.
//   wXa16         weight-only: weights per-channel asymmetric MinMax
//                 (OmniQuant/RTN W*A16); activations disabled.
//   -g<N>         weights per-group(N) instead of per-channel and, when
//                 activations are quantized, activations per-group(N)
//                 dynamic instead of per-token (OS+ int4_group.yaml); the
//                 symmetry stays as above.
// Every weight config is static with the kMinMax observer (weights are seen
// once) and every config uses the OS+ conventions (narrow symmetric grid,
// zero inclusion); methods that follow OmniQuant or OS change those fields.
#pragma once

#include <string>
#include <string_view>

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

}  // namespace quantd::engine::quant
