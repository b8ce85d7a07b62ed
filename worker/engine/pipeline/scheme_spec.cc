// `scheme` of a JobSpec: read into a contract::SchemeRequest and resolved
// by the contract's rule (contract/scheme_request.h), the one quantd applies
// at submit.
#include "contract/contract_error.h"
#include "contract/scheme_request.h"
#include "worker/engine/pipeline/spec_reader.h"

namespace quantd::engine::pipeline::internal {
namespace {

// The keys of one TensorQuant block, unset where absent.
contract::TensorOverride ReadOverride(const nlohmann::json& json,
                                      const std::string& path) {
  SpecReader reader(json, path,
                    {"bits", "symmetric", "granularity", "group_size",
                     "dynamic", "observer", "enabled"});
  contract::TensorOverride over;
  over.bits = reader.Integer("bits", 0, 1 << 20);
  over.enabled = reader.Bool("enabled");
  over.symmetric = reader.Bool("symmetric");
  constexpr contract::Granularity kGranularities[] = {
      contract::Granularity::kPerTensor, contract::Granularity::kPerChannel,
      contract::Granularity::kPerToken, contract::Granularity::kPerGroup};
  if (auto index = reader.Enum("granularity", "GRANULARITY_",
                               {"UNSPECIFIED", "PER_TENSOR", "PER_CHANNEL",
                                "PER_TOKEN", "PER_GROUP"});
      index && *index != 0) {
    over.granularity = kGranularities[*index - 1];
  }
  over.group_size = reader.Integer("group_size", 0, 1 << 20);
  over.dynamic = reader.Bool("dynamic");
  over.observer = reader.String("observer");
  return over;
}

}  // namespace

quant::QuantScheme ParseSchemeSpec(const nlohmann::json& json) {
  SpecReader reader(json, "scheme", {"preset", "weights", "activations"});
  contract::SchemeRequest request;
  request.preset = reader.String("preset").value_or("");
  if (const nlohmann::json* weights = reader.Object("weights")) {
    request.weights = ReadOverride(*weights, "scheme.weights");
  }
  if (const nlohmann::json* activations = reader.Object("activations")) {
    request.activations = ReadOverride(*activations, "scheme.activations");
  }
  try {
    return quant::FromContract(contract::ResolveScheme(request));
  } catch (const contract::ContractError& error) {
    throw SpecError(error.field(), error.what());
  }
}

}  // namespace quantd::engine::pipeline::internal
