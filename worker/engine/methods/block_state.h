// BlockQuantState: everything besides a block's (transformed, fake-
// quantized) tensors that its quantized forward needs, and what an
// exporter writes next to the weights:
//   * per activation hook point: the quantizer config, its frozen static
//     (Δ, zp) and, for sites whose equivalent transformation could not be
//     folded into a norm (Post-LN residual sites), the input transform
//     x ↦ (x − shift) ⊘ scale applied before quantization;
//   * per Linear: the weight quantizer config and (Δ, zp), so integer codes
//     can be exported exactly.
// Plus its serialization (tensors under "quant.<block prefix>..." and a JSON
// description) and InstallActivationQuantizers, which recreates the hooks.
//
// Plain values; tensors are shared handles. Not thread-safe to mutate.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "worker/engine/model/block.h"
#include "worker/engine/quant/qparams.h"
#include "worker/engine/quant/quant_config.h"

namespace quantd::engine::methods {

// x ↦ (x − shift) ⊘ scale per channel (last dim). Either part may be
// undefined (no shift / no scale).
struct InputTransform {
  at::Tensor shift;
  at::Tensor scale;

  bool empty() const { return !shift.defined() && !scale.defined(); }
  at::Tensor Apply(const at::Tensor& x) const;
  // This transform followed by `next`:
  // (x − z1 − s1 ⊙ z2) ⊘ (s1 ⊙ s2).
  InputTransform Then(const InputTransform& next) const;
};

struct ActivationState {
  model::HookPoint point = model::HookPoint::kAttnIn;
  quant::QuantConfig config;
  // Static quantizers only.
  std::optional<quant::QParams> qparams;
  InputTransform transform;
};

struct WeightState {
  std::string linear;  // Block-relative name, e.g. "self_attn.q_proj".
  quant::QuantConfig config;
  quant::QParams qparams;
  // The transformed weight just before rounding (kept through later
  // producer rescaling), for the exported FP model; undefined when the
  // weight is not quantized.
  at::Tensor fp_weight;
};

struct BlockQuantState {
  std::vector<ActivationState> activations;
  std::vector<WeightState> weights;
};

// QuantConfig <-> JSON with the stable names of quant_config.h.
nlohmann::json QuantConfigToJson(const quant::QuantConfig& config);
// Throws quant::ConfigError for an invalid description.
quant::QuantConfig QuantConfigFromJson(const nlohmann::json& json);

// The state's tensors under "quant.<prefix><point or linear>.<field>".
std::vector<std::pair<std::string, at::Tensor>> StateTensors(
    const BlockQuantState& state, const std::string& prefix);
// Everything else (configs, grids, which tensors exist).
nlohmann::json StateToJson(const BlockQuantState& state);
// Inverse of StateTensors + StateToJson; `load` returns a stored tensor by
// name (and throws when it is missing). Throws MethodError on a malformed
// description.
BlockQuantState StateFromJson(
    const nlohmann::json& json, const std::string& prefix,
    const std::function<at::Tensor(const std::string&)>& load);

// Installs on `block` one self-contained hook per activation state
// (x ↦ Q(T(x)) with the frozen parameters), replacing every hook.
void InstallActivationQuantizers(model::Block& block,
                                 const BlockQuantState& state);

// The activation quantizer x ↦ Q(T(x)) of one state, for a hook.
at::Tensor ApplyActivationState(const ActivationState& state,
                                const at::Tensor& x);

}  // namespace quantd::engine::methods
