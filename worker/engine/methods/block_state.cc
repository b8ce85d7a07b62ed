#include "worker/engine/methods/block_state.h"

#include <string>

#include "worker/engine/methods/method_error.h"
#include "worker/engine/quant/fake_quant.h"

namespace quantd::engine::methods {
namespace {

// Reads a required member, turning nlohmann's exceptions into MethodError.
template <typename T>
T Member(const nlohmann::json& json, const char* key, const char* what) {
  if (!json.is_object() || !json.contains(key)) {
    throw MethodError(std::string("quantization state: ") + what + " has no '" +
                      key + "'");
  }
  try {
    return json.at(key).get<T>();
  } catch (const nlohmann::json::exception& error) {
    throw MethodError(std::string("quantization state: ") + what + " '" + key +
                      "': " + error.what());
  }
}

nlohmann::json QParamsJson(const quant::QParams& qparams) {
  return {{"qmin", qparams.qmin}, {"qmax", qparams.qmax}};
}

void AddQParams(std::vector<std::pair<std::string, at::Tensor>>& tensors,
                const std::string& base, const char* infix,
                const quant::QParams& qparams) {
  tensors.emplace_back(base + infix + "scale", qparams.scale);
  tensors.emplace_back(base + infix + "zero_point", qparams.zero_point);
}

quant::QParams LoadQParams(
    const nlohmann::json& json, const std::string& base, const char* infix,
    const std::function<at::Tensor(const std::string&)>& load) {
  quant::QParams qparams;
  qparams.scale = load(base + infix + "scale");
  qparams.zero_point = load(base + infix + "zero_point");
  qparams.qmin = Member<int64_t>(json, "qmin", "quantizer");
  qparams.qmax = Member<int64_t>(json, "qmax", "quantizer");
  return qparams;
}

}  // namespace

at::Tensor InputTransform::Apply(const at::Tensor& x) const {
  at::Tensor y = x;
  if (shift.defined()) y = y - shift;
  if (scale.defined()) y = y / scale;
  return y;
}

InputTransform InputTransform::Then(const InputTransform& next) const {
  if (empty()) return next;
  if (next.empty()) return *this;
  InputTransform combined = *this;
  if (next.shift.defined()) {
    at::Tensor moved = scale.defined() ? next.shift * scale : next.shift;
    combined.shift = shift.defined() ? shift + moved : moved;
  }
  if (next.scale.defined()) {
    combined.scale = scale.defined() ? scale * next.scale : next.scale;
  }
  return combined;
}

nlohmann::json QuantConfigToJson(const quant::QuantConfig& config) {
  return {{"enabled", config.enabled},
          {"bits", config.bits},
          {"symmetric", config.symmetric},
          {"grid", quant::GridName(config.grid)},
          {"granularity", quant::GranularityName(config.granularity)},
          {"group_size", config.group_size},
          {"dynamic", config.dynamic},
          {"observer", quant::ObserverKindName(config.observer)},
          {"include_zero", config.include_zero}};
}

quant::QuantConfig QuantConfigFromJson(const nlohmann::json& json) {
  const char* what = "quantizer config";
  quant::QuantConfig config;
  config.enabled = Member<bool>(json, "enabled", what);
  config.bits = Member<int>(json, "bits", what);
  config.symmetric = Member<bool>(json, "symmetric", what);
  config.grid =
      quant::ParseGrid(Member<std::string>(json, "grid", what), "grid");
  config.granularity = quant::ParseGranularity(
      Member<std::string>(json, "granularity", what), "granularity");
  config.group_size = Member<int64_t>(json, "group_size", what);
  config.dynamic = Member<bool>(json, "dynamic", what);
  config.observer = quant::ParseObserverKind(
      Member<std::string>(json, "observer", what), "observer");
  config.include_zero = Member<bool>(json, "include_zero", what);
  quant::ValidateQuantConfig(config);
  return config;
}

std::vector<std::pair<std::string, at::Tensor>> StateTensors(
    const BlockQuantState& state, const std::string& prefix) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const ActivationState& activation : state.activations) {
    std::string base =
        "quant." + prefix + std::string(model::HookPointName(activation.point));
    if (activation.qparams) {
      AddQParams(tensors, base, ".", *activation.qparams);
    }
    if (activation.transform.shift.defined()) {
      tensors.emplace_back(base + ".input_shift", activation.transform.shift);
    }
    if (activation.transform.scale.defined()) {
      tensors.emplace_back(base + ".input_scale", activation.transform.scale);
    }
  }
  for (const WeightState& weight : state.weights) {
    if (!weight.config.enabled) continue;
    AddQParams(tensors, "quant." + prefix + weight.linear, ".weight_",
               weight.qparams);
    if (weight.fp_weight.defined()) {
      tensors.emplace_back("quant." + prefix + weight.linear + ".fp_weight",
                           weight.fp_weight);
    }
  }
  return tensors;
}

nlohmann::json StateToJson(const BlockQuantState& state) {
  nlohmann::json activations = nlohmann::json::array();
  for (const ActivationState& activation : state.activations) {
    nlohmann::json entry = {
        {"point", std::string(model::HookPointName(activation.point))},
        {"config", QuantConfigToJson(activation.config)},
        {"static", activation.qparams.has_value()},
        {"shift", activation.transform.shift.defined()},
        {"scale", activation.transform.scale.defined()}};
    if (activation.qparams) entry.update(QParamsJson(*activation.qparams));
    activations.push_back(std::move(entry));
  }
  nlohmann::json weights = nlohmann::json::array();
  for (const WeightState& weight : state.weights) {
    nlohmann::json entry = {{"linear", weight.linear},
                            {"config", QuantConfigToJson(weight.config)},
                            {"fp_weight", weight.fp_weight.defined()}};
    if (weight.config.enabled) entry.update(QParamsJson(weight.qparams));
    weights.push_back(std::move(entry));
  }
  return {{"activations", activations}, {"weights", weights}};
}

BlockQuantState StateFromJson(
    const nlohmann::json& json, const std::string& prefix,
    const std::function<at::Tensor(const std::string&)>& load) {
  BlockQuantState state;
  for (const nlohmann::json& entry :
       Member<nlohmann::json>(json, "activations", "block state")) {
    ActivationState activation;
    activation.point = model::ParseHookPoint(
        Member<std::string>(entry, "point", "activation"));
    activation.config = QuantConfigFromJson(entry.at("config"));
    std::string base =
        "quant." + prefix + std::string(model::HookPointName(activation.point));
    if (Member<bool>(entry, "static", "activation")) {
      activation.qparams = LoadQParams(entry, base, ".", load);
    }
    if (Member<bool>(entry, "shift", "activation")) {
      activation.transform.shift = load(base + ".input_shift");
    }
    if (Member<bool>(entry, "scale", "activation")) {
      activation.transform.scale = load(base + ".input_scale");
    }
    state.activations.push_back(std::move(activation));
  }
  for (const nlohmann::json& entry :
       Member<nlohmann::json>(json, "weights", "block state")) {
    WeightState weight;
    weight.linear = Member<std::string>(entry, "linear", "weight");
    weight.config = QuantConfigFromJson(entry.at("config"));
    if (weight.config.enabled) {
      weight.qparams = LoadQParams(entry, "quant." + prefix + weight.linear,
                                   ".weight_", load);
      if (entry.value("fp_weight", false)) {
        weight.fp_weight =
            load("quant." + prefix + weight.linear + ".fp_weight");
      }
    }
    state.weights.push_back(std::move(weight));
  }
  return state;
}

at::Tensor ApplyActivationState(const ActivationState& state,
                                const at::Tensor& x) {
  at::Tensor y = state.transform.Apply(x);
  if (!state.config.enabled) return y;
  if (state.qparams) {
    return quant::FakeQuantize(y, *state.qparams, state.config.granularity,
                               state.config.group_size);
  }
  return quant::FakeQuantizeDynamic(y, state.config);
}

void InstallActivationQuantizers(model::Block& block,
                                 const BlockQuantState& state) {
  block.ClearHooks();
  for (const ActivationState& activation : state.activations) {
    block.SetHook(activation.point, [activation](const at::Tensor& x) {
      return ApplyActivationState(activation, x);
    });
  }
}

}  // namespace quantd::engine::methods
