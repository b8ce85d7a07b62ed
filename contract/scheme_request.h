// SchemeRequest: a job's `scheme` as submitted (a preset and/or explicit
// weights/activations settings) and the one rule that turns it into the
// scheme the engine runs. quantd applies it at submit (from the proto),
// quantd-engine before any work (from spec.json), so both refuse the same
// requests with the same field and run the same expansion.
//
// Rule:
//   - Without a preset, explicit weights are required; activations stay in
//     floating point unless the request turns them on.
//   - Every field an explicit block sets overrides the preset's. Setting
//     bits enables the tensor class (bits 0 disables it) unless `enabled`
//     is set too; a disabled class ignores its other fields. A class turned
//     on by the request (a16 presets' activations, or no preset) starts
//     where the presets do: weights per-channel, activations per-token
//     dynamic, both asymmetric with the minmax observer.
//   - A granularity other than per-group clears the group size; a group
//     size > 0 alone makes it per-group (with another granularity set
//     beside it, it is refused).
//   - Weights are static and never per-token; activations are never
//     per-channel, and per-token ones are dynamic. A switch between static
//     and dynamic without an explicit observer takes that mode's default
//     observer (minmax dynamic, avg_minmax static).
//   - Then every enabled class is validated (ValidateTensorScheme).
//
// Plain values and functions; no LibTorch, gRPC or protobuf. Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "contract/scheme_preset.h"

namespace quantd::contract {

// One explicit block; unset fields keep the base's value.
struct TensorOverride {
  std::optional<int64_t> bits;
  std::optional<bool> enabled;
  std::optional<bool> symmetric;
  std::optional<Granularity> granularity;
  std::optional<int64_t> group_size;
  std::optional<bool> dynamic;
  std::optional<std::string> observer;  // "" counts as unset.
};

struct SchemeRequest {
  std::string preset;  // "" for an explicit scheme.
  std::optional<TensorOverride> weights;
  std::optional<TensorOverride> activations;
};

// The static-range observers a spec may name, canonical names first;
// "quantile" is accepted as "avg_quantile".
const std::vector<std::string>& ObserverNames();
// The canonical name, or nullopt for an unknown one.
std::optional<std::string> CanonicalObserver(std::string_view name);

// The resolved scheme: `name` is the preset's, "custom" without a preset,
// and "<preset>+custom" with overrides. Throws ContractError whose field is
// "scheme", "scheme.preset" or "scheme.<weights|activations>.<key>".
SchemePreset ResolveScheme(const SchemeRequest& request);

// The invariants of one enabled class: bits in 2..8; a group size > 0
// exactly for per-group; per-token only dynamic; a dynamic quantizer's
// observer is minmax; avg_minmax, avg_quantile, ema_quantile and
// token_pruned_minmax only per-tensor. Throws ContractError whose field is
// `prefix` + "." + the key.
void ValidateTensorScheme(const TensorScheme& tensor, std::string_view prefix);

// Group sizes must divide the input dimensions of the linears they group
// (the hidden size, and the intermediate size for down_proj); 0 = unknown.
// Throws ContractError ("scheme.<weights|activations>.group_size").
void CheckGroupsDivide(const SchemePreset& scheme, uint64_t hidden_size,
                       uint64_t intermediate_size);

}  // namespace quantd::contract
