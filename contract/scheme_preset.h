// Scheme presets: the one grammar and mapping of a scheme name such as
// "w4a4", "w8a8-pt" or "w4a16-g128" onto weight and activation quantizer
// settings, shared by quantd (submit validation), quantd-engine (what it
// runs) and quantctl (flag checking). docs/ALGORITHMS.md §1.5 and
// docs/QUANTIZERS.md give the rationale.
//
// Grammar (case-insensitive): w<W>a<A>[-pt][-g<N>]
//   W in [2, 8]; A in [2, 8] or 16 (16 = activations not quantized);
//   -pt: per-tensor static activations (needs A < 16, excludes -g);
//   -g<N>: group size N > 0 along the input dimension.
//
// Mapping:
//   w8a8          weights per-channel symmetric (OS+ narrow grid, Δ =
//                 absmax/127, SmoothQuant's LLaMA setting); activations
//                 per-token symmetric dynamic.
//   w8a8-pt       OS+ INT8*: weights per-tensor symmetric; activations
//                 per-tensor symmetric static (avg_minmax observer).
//   wXaY, Y < 16  (w6a6, w4a4, ...) OS+ fine-grained LLaMA configs:
//                 weights per-channel asymmetric; activations per-token
//                 asymmetric dynamic.
//   wXaY-pt       OS+ INT6: weights per-channel asymmetric; activations
//                 per-tensor asymmetric static (avg_minmax).
//   wXa16         weight-only: weights per-channel asymmetric;
//                 activations not quantized.
//   -g<N>         weights per-group(N) instead of per-channel and, when
//                 activations are quantized, activations per-group(N)
//                 dynamic instead of per-token; the symmetry stays.
// Weights are always static with the minmax observer.
//
// Plain values and functions; no LibTorch, gRPC or protobuf. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace quantd::contract {

inline constexpr int kUnquantizedBits = 16;

// The axis over which one (scale, zero point) pair is shared.
enum class Granularity {
  kPerTensor,
  kPerChannel,  // One pair per output row of a weight.
  kPerToken,    // One pair per token of an activation (dynamic).
  kPerGroup,    // One pair per group_size values along the input dim.
};

// One class of tensors (all weights, or all activations).
struct TensorScheme {
  bool enabled = false;  // false: kept in floating point (A16).
  int bits = kUnquantizedBits;
  bool symmetric = false;
  Granularity granularity = Granularity::kPerTensor;
  int64_t group_size = 0;  // > 0 exactly for kPerGroup.
  bool dynamic = false;
  // A name from ObserverNames() (contract/scheme_request.h); a preset picks
  // "minmax", or "avg_minmax" for per-tensor static activations.
  std::string observer = "minmax";
};

struct SchemePreset {
  std::string name;  // Canonical lower-case spelling, e.g. "w4a16-g128".
  int weight_bits = 0;
  int activation_bits = kUnquantizedBits;  // 16 when not quantized.
  int64_t group_size = 0;                  // 0 without -g.
  bool per_tensor_activations = false;
  TensorScheme weights;
  TensorScheme activations;
};

// Parses `text`; throws ContractError whose field() is "scheme" (malformed
// or conflicting suffixes), "weight_bits", "activation_bits" or
// "group_size", and whose message quotes the scheme.
SchemePreset ParseSchemePreset(std::string_view text);

// "per_tensor", "per_channel", "per_token", "per_group".
const char* GranularityName(Granularity granularity);

}  // namespace quantd::contract
