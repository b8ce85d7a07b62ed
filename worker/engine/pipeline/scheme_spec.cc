// `scheme` of a JobSpec: a preset (quant::ParseScheme) and/or explicit
// `weights` / `activations` settings. Every key present in an explicit
// block overrides the preset's value; without a preset the explicit
// weights are required and activations default to FP.
#include <c10/util/StringUtil.h>

#include "worker/engine/pipeline/spec_reader.h"
#include "worker/engine/quant/errors.h"

namespace quantd::engine::pipeline::internal {
namespace {

quant::Granularity GranularityAt(int index) {
  switch (index) {
    case 1:
      return quant::Granularity::kPerTensor;
    case 2:
      return quant::Granularity::kPerChannel;
    case 3:
      return quant::Granularity::kPerToken;
    default:
      return quant::Granularity::kPerGroup;
  }
}

quant::ObserverKind ObserverNamed(const std::string& name,
                                  const std::string& field) {
  // The proto's short names; the rest are quant_config.h's own names.
  const std::string canonical = name == "quantile" ? "avg_quantile" : name;
  try {
    return quant::ParseObserverKind(canonical, field);
  } catch (const quant::ConfigError& error) {
    throw SpecError(field, ProblemOf(error.what()));
  }
}

// Granularity and group size; keeps the group size consistent.
void ApplyGrouping(const SpecReader& reader, quant::QuantConfig& config) {
  if (auto index = reader.Enum("granularity", "GRANULARITY_",
                               {"UNSPECIFIED", "PER_TENSOR", "PER_CHANNEL",
                                "PER_TOKEN", "PER_GROUP"});
      index && *index != 0) {
    config.granularity = GranularityAt(*index);
    if (config.granularity != quant::Granularity::kPerGroup) {
      config.group_size = 0;
    }
  }
  if (auto group = reader.Integer("group_size", 0, 1 << 20)) {
    config.group_size = *group;
    if (*group > 0) config.granularity = quant::Granularity::kPerGroup;
  }
}

// Weights are static and per row; activations are never per channel, and
// per-token ones are dynamic. A switch between static and dynamic without
// an explicit observer picks that mode's default one.
void ApplyMode(const SpecReader& reader, bool weights,
               quant::QuantConfig& config) {
  if (weights) {
    if (reader.Bool("dynamic").value_or(false)) {
      throw SpecError(reader.Field("dynamic"),
                      "weights are quantized once; must be false");
    }
    if (config.granularity == quant::Granularity::kPerToken) {
      throw SpecError(reader.Field("granularity"),
                      "per-token applies to activations only");
    }
    return;
  }
  if (config.granularity == quant::Granularity::kPerChannel) {
    throw SpecError(reader.Field("granularity"),
                    "per-channel applies to weights only");
  }
  const bool dynamic = config.granularity == quant::Granularity::kPerToken ||
                       reader.Bool("dynamic").value_or(config.dynamic);
  if (dynamic != config.dynamic && !reader.Has("observer")) {
    config.observer = dynamic ? quant::ObserverKind::kMinMax
                              : quant::ObserverKind::kAvgMinMax;
  }
  config.dynamic = dynamic;
}

// Applies the keys of one TensorQuant block onto `config`.
void ApplyTensorQuant(const nlohmann::json& json, const std::string& path,
                      bool weights, quant::QuantConfig& config) {
  SpecReader reader(json, path,
                    {"bits", "symmetric", "granularity", "group_size",
                     "dynamic", "observer", "enabled"});
  if (auto bits = reader.Integer("bits", 0, 1 << 20)) {
    config.bits = static_cast<int>(*bits);
    if (!reader.Has("enabled")) config.enabled = *bits != 0;
  }
  if (auto enabled = reader.Bool("enabled")) config.enabled = *enabled;
  if (!config.enabled) return;
  if (config.bits < 2 || config.bits > 8) {
    throw SpecError(reader.Field("bits"),
                    c10::str("must be in 2..8, got ", config.bits));
  }
  if (auto symmetric = reader.Bool("symmetric")) config.symmetric = *symmetric;
  ApplyGrouping(reader, config);
  ApplyMode(reader, weights, config);
  if (auto observer = reader.String("observer");
      observer && !observer->empty()) {
    config.observer = ObserverNamed(*observer, reader.Field("observer"));
  }
}

void Validate(const quant::QuantConfig& config, const std::string& path) {
  try {
    quant::ValidateQuantConfig(config);
  } catch (const quant::ConfigError& error) {
    throw SpecError(path + "." + error.field(), ProblemOf(error.what()));
  }
}

// The preset's scheme, or the base of an explicit one (weights required,
// activations FP unless given).
quant::QuantScheme BaseScheme(const SpecReader& reader,
                              const std::string& preset) {
  quant::QuantScheme scheme;
  if (!preset.empty()) {
    try {
      return quant::ParseScheme(preset);
    } catch (const quant::ConfigError& error) {
      throw SpecError("scheme.preset", ProblemOf(error.what()));
    }
  }
  if (reader.Object("weights") == nullptr) {
    throw SpecError("scheme",
                    "give a preset (e.g. \"w8a8\") or explicit weights "
                    "settings");
  }
  scheme.name = "custom";
  scheme.weight.bits = 0;
  scheme.weight.granularity = quant::Granularity::kPerChannel;
  scheme.activation.enabled = false;
  scheme.activation.granularity = quant::Granularity::kPerToken;
  scheme.activation.dynamic = true;
  return scheme;
}

}  // namespace

quant::QuantScheme ParseSchemeSpec(const nlohmann::json& json) {
  SpecReader reader(json, "scheme", {"preset", "weights", "activations"});
  const std::string preset = reader.String("preset").value_or("");
  quant::QuantScheme scheme = BaseScheme(reader, preset);
  const nlohmann::json* weights = reader.Object("weights");
  const nlohmann::json* activations = reader.Object("activations");
  if (weights != nullptr) {
    ApplyTensorQuant(*weights, "scheme.weights", true, scheme.weight);
  }
  if (activations != nullptr) {
    ApplyTensorQuant(*activations, "scheme.activations", false,
                     scheme.activation);
  }
  Validate(scheme.weight, "scheme.weights");
  Validate(scheme.activation, "scheme.activations");
  if ((weights || activations) && !preset.empty()) scheme.name += "+custom";
  scheme.weight_bits = scheme.weight.enabled ? scheme.weight.bits : 16;
  scheme.activation_bits =
      scheme.activation.enabled ? scheme.activation.bits : 16;
  scheme.group_size = scheme.weight.group_size;
  scheme.per_tensor_activations =
      scheme.activation.enabled &&
      scheme.activation.granularity == quant::Granularity::kPerTensor;
  return scheme;
}

}  // namespace quantd::engine::pipeline::internal
