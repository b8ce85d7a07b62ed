#include "contract/scheme_request.h"

#include <array>

#include "contract/contract_error.h"

namespace quantd::contract {
namespace {

constexpr int kMinBits = 2;
constexpr int kMaxBits = 8;

[[noreturn]] void Fail(std::string_view prefix, std::string_view key,
                       const std::string& problem) {
  throw ContractError(std::string(prefix) + "." + std::string(key), problem);
}

bool IsPerTensorOnly(const std::string& observer) {
  return observer == "avg_minmax" || observer == "avg_quantile" ||
         observer == "ema_quantile" || observer == "token_pruned_minmax";
}

// Granularity, then group size; keeps the two consistent. A group size
// alone makes the class per-group; with another granularity set beside it,
// it is a contradiction.
void ApplyGrouping(const TensorOverride& over, std::string_view prefix,
                   TensorScheme& tensor) {
  if (over.granularity && *over.granularity != Granularity::kPerGroup &&
      over.group_size.value_or(0) != 0) {
    Fail(prefix, "group_size",
         std::string("must be 0 unless granularity is per_group (it is ") +
             GranularityName(*over.granularity) + ")");
  }
  if (over.granularity) {
    tensor.granularity = *over.granularity;
    if (tensor.granularity != Granularity::kPerGroup) tensor.group_size = 0;
  }
  if (over.group_size) {
    tensor.group_size = *over.group_size;
    if (*over.group_size > 0) tensor.granularity = Granularity::kPerGroup;
  }
}

void ApplyMode(const TensorOverride& over, bool weights,
               std::string_view prefix, TensorScheme& tensor) {
  if (weights) {
    if (over.dynamic.value_or(false)) {
      Fail(prefix, "dynamic", "weights are quantized once; must be false");
    }
    if (tensor.granularity == Granularity::kPerToken) {
      Fail(prefix, "granularity", "per-token applies to activations only");
    }
    return;
  }
  if (tensor.granularity == Granularity::kPerChannel) {
    Fail(prefix, "granularity", "per-channel applies to weights only");
  }
  const bool dynamic = tensor.granularity == Granularity::kPerToken ||
                       over.dynamic.value_or(tensor.dynamic);
  const bool observer_set = over.observer && !over.observer->empty();
  if (dynamic != tensor.dynamic && !observer_set) {
    tensor.observer = dynamic ? "minmax" : "avg_minmax";
  }
  tensor.dynamic = dynamic;
}

// Where a class starts when a request turns it on: weights per-channel,
// activations per-token dynamic (the presets' defaults).
TensorScheme ClassBase(bool weights) {
  TensorScheme tensor;
  tensor.enabled = true;
  tensor.granularity =
      weights ? Granularity::kPerChannel : Granularity::kPerToken;
  tensor.dynamic = !weights;
  return tensor;
}

void ApplyOverride(const TensorOverride& over, bool weights,
                   std::string_view prefix, TensorScheme& tensor) {
  const bool was_enabled = tensor.enabled;
  if (over.bits) {
    if (*over.bits < 0 || *over.bits > kUnquantizedBits) {
      Fail(prefix, "bits",
           "must be in " + std::to_string(kMinBits) + ".." +
               std::to_string(kMaxBits) + ", got " +
               std::to_string(*over.bits));
    }
    tensor.bits = static_cast<int>(*over.bits);
    if (!over.enabled) tensor.enabled = *over.bits != 0;
  }
  if (over.enabled) tensor.enabled = *over.enabled;
  if (!tensor.enabled) {
    tensor = TensorScheme{};
    return;
  }
  if (!was_enabled) {
    const int bits = tensor.bits;
    tensor = ClassBase(weights);
    tensor.bits = bits;
  }
  if (over.symmetric) tensor.symmetric = *over.symmetric;
  ApplyGrouping(over, prefix, tensor);
  ApplyMode(over, weights, prefix, tensor);
  if (over.observer && !over.observer->empty()) {
    const std::optional<std::string> name = CanonicalObserver(*over.observer);
    if (!name) {
      std::string known;
      for (const std::string& observer : ObserverNames()) {
        known += (known.empty() ? "" : ", ") + observer;
      }
      Fail(prefix, "observer",
           "unknown observer '" + *over.observer +
               "' (expected one of: " + known + ")");
    }
    tensor.observer = *name;
  }
}

// A request without a preset: weights required and on; activations in
// floating point until the request turns them on.
SchemePreset ExplicitBase(const SchemeRequest& request) {
  if (!request.weights) {
    throw ContractError("scheme",
                        "give a preset (e.g. \"w8a8\") or explicit weights "
                        "settings");
  }
  SchemePreset scheme;
  scheme.name = "custom";
  scheme.weights = ClassBase(true);
  scheme.weights.bits = 0;
  return scheme;
}

}  // namespace

const std::vector<std::string>& ObserverNames() {
  static const std::vector<std::string> kNames = {
      "minmax",     "running_minmax", "avg_minmax",
      "ema_minmax", "avg_quantile",   "ema_quantile",
      "mse",        "avg_mse",        "token_pruned_minmax"};
  return kNames;
}

std::optional<std::string> CanonicalObserver(std::string_view name) {
  if (name == "quantile") return "avg_quantile";
  for (const std::string& known : ObserverNames()) {
    if (known == name) return known;
  }
  return std::nullopt;
}

SchemePreset ResolveScheme(const SchemeRequest& request) {
  SchemePreset scheme;
  if (request.preset.empty()) {
    scheme = ExplicitBase(request);
  } else {
    try {
      scheme = ParseSchemePreset(request.preset);
    } catch (const ContractError& error) {
      throw ContractError("scheme.preset", error.what());
    }
  }
  if (request.weights) {
    ApplyOverride(*request.weights, true, "scheme.weights", scheme.weights);
  }
  if (request.activations) {
    ApplyOverride(*request.activations, false, "scheme.activations",
                  scheme.activations);
  }
  ValidateTensorScheme(scheme.weights, "scheme.weights");
  ValidateTensorScheme(scheme.activations, "scheme.activations");
  if (!scheme.weights.enabled && !scheme.activations.enabled) {
    throw ContractError("scheme", "quantizes nothing");
  }
  const bool overridden = request.weights || request.activations;
  if (overridden && !request.preset.empty()) scheme.name += "+custom";
  scheme.weight_bits =
      scheme.weights.enabled ? scheme.weights.bits : kUnquantizedBits;
  scheme.activation_bits =
      scheme.activations.enabled ? scheme.activations.bits : kUnquantizedBits;
  scheme.group_size = scheme.weights.group_size;
  scheme.per_tensor_activations =
      scheme.activations.enabled &&
      scheme.activations.granularity == Granularity::kPerTensor;
  return scheme;
}

void ValidateTensorScheme(const TensorScheme& tensor, std::string_view prefix) {
  if (!tensor.enabled) return;
  if (tensor.bits < kMinBits || tensor.bits > kMaxBits) {
    Fail(prefix, "bits",
         "must be in " + std::to_string(kMinBits) + ".." +
             std::to_string(kMaxBits) + ", got " + std::to_string(tensor.bits));
  }
  const bool grouped = tensor.granularity == Granularity::kPerGroup;
  if (grouped && tensor.group_size <= 0) {
    Fail(prefix, "group_size",
         "must be > 0 for per_group, got " + std::to_string(tensor.group_size));
  }
  if (!grouped && tensor.group_size != 0) {
    Fail(prefix, "group_size",
         std::string("must be 0 unless granularity is per_group (it is ") +
             GranularityName(tensor.granularity) + "), got " +
             std::to_string(tensor.group_size));
  }
  if (tensor.granularity == Granularity::kPerToken && !tensor.dynamic) {
    Fail(prefix, "dynamic",
         "per_token quantizers must be dynamic: the token count changes "
         "between batches");
  }
  if (!CanonicalObserver(tensor.observer)) {
    Fail(prefix, "observer", "unknown observer '" + tensor.observer + "'");
  }
  if (tensor.dynamic && tensor.observer != "minmax") {
    Fail(prefix, "observer",
         "'" + tensor.observer +
             "' has no effect on a dynamic quantizer (it uses the min/max "
             "of each input); use 'minmax'");
  }
  if (IsPerTensorOnly(tensor.observer) &&
      tensor.granularity != Granularity::kPerTensor) {
    Fail(prefix, "observer",
         "'" + tensor.observer + "' supports per_tensor only, not " +
             GranularityName(tensor.granularity));
  }
}

void CheckGroupsDivide(const SchemePreset& scheme, uint64_t hidden_size,
                       uint64_t intermediate_size) {
  const std::array<std::pair<const TensorScheme*, const char*>, 2> classes{{
      {&scheme.weights, "scheme.weights"},
      {&scheme.activations, "scheme.activations"},
  }};
  for (const auto& [tensor, prefix] : classes) {
    if (!tensor->enabled || tensor->granularity != Granularity::kPerGroup) {
      continue;
    }
    const auto group = static_cast<uint64_t>(tensor->group_size);
    for (uint64_t dim : {hidden_size, intermediate_size}) {
      if (dim != 0 && dim % group != 0) {
        Fail(prefix, "group_size",
             std::to_string(group) + " does not divide the model's dimension " +
                 std::to_string(dim));
      }
    }
  }
}

}  // namespace quantd::contract
