#include "worker/engine/quant/scheme.h"

#include "contract/contract_error.h"
#include "contract/scheme_preset.h"
#include "worker/engine/quant/errors.h"

namespace quantd::engine::quant {
namespace {

Granularity FromContract(contract::Granularity granularity) {
  switch (granularity) {
    case contract::Granularity::kPerTensor:
      return Granularity::kPerTensor;
    case contract::Granularity::kPerChannel:
      return Granularity::kPerChannel;
    case contract::Granularity::kPerToken:
      return Granularity::kPerToken;
    case contract::Granularity::kPerGroup:
      return Granularity::kPerGroup;
  }
  return Granularity::kPerTensor;
}

QuantConfig FromContract(const contract::TensorScheme& tensor) {
  QuantConfig config;
  config.enabled = tensor.enabled;
  config.bits = tensor.bits;
  if (!tensor.enabled) return config;
  config.symmetric = tensor.symmetric;
  config.granularity = FromContract(tensor.granularity);
  config.group_size = tensor.group_size;
  config.dynamic = tensor.dynamic;
  config.observer = ParseObserverKind(tensor.observer, "observer");
  return config;
}

}  // namespace

QuantScheme ParseScheme(std::string_view text) {
  try {
    return FromContract(contract::ParseSchemePreset(text));
  } catch (const contract::ContractError& error) {
    throw ConfigError(error.field(), error.what());
  }
}

QuantScheme FromContract(const contract::SchemePreset& preset) {
  QuantScheme scheme;
  scheme.name = preset.name;
  scheme.weight_bits = preset.weight_bits;
  scheme.activation_bits = preset.activation_bits;
  scheme.group_size = preset.group_size;
  scheme.per_tensor_activations = preset.per_tensor_activations;
  scheme.weight = FromContract(preset.weights);
  scheme.activation = FromContract(preset.activations);
  ValidateQuantConfig(scheme.weight);
  ValidateQuantConfig(scheme.activation);
  return scheme;
}

contract::TensorScheme ToContract(const QuantConfig& config) {
  contract::TensorScheme tensor;
  tensor.enabled = config.enabled;
  tensor.bits = config.enabled ? config.bits : contract::kUnquantizedBits;
  if (!config.enabled) return tensor;
  tensor.symmetric = config.symmetric;
  switch (config.granularity) {
    case Granularity::kPerTensor:
      tensor.granularity = contract::Granularity::kPerTensor;
      break;
    case Granularity::kPerChannel:
      tensor.granularity = contract::Granularity::kPerChannel;
      break;
    case Granularity::kPerToken:
      tensor.granularity = contract::Granularity::kPerToken;
      break;
    case Granularity::kPerGroup:
      tensor.granularity = contract::Granularity::kPerGroup;
      break;
  }
  tensor.group_size = config.group_size;
  tensor.dynamic = config.dynamic;
  tensor.observer = ObserverKindName(config.observer);
  return tensor;
}

}  // namespace quantd::engine::quant
