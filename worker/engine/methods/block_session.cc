#include "worker/engine/methods/block_session.h"

#include "worker/engine/methods/equivalent_transform.h"
#include "worker/engine/methods/method_error.h"
#include "worker/engine/methods/weight_quant.h"

namespace quantd::engine::methods {
namespace {

constexpr model::HookPoint kAttentionPoints[] = {
    model::HookPoint::kQuery, model::HookPoint::kKey, model::HookPoint::kValue,
    model::HookPoint::kProbs};

}  // namespace

ActivationPlan DefaultActivationPlan(const quant::QuantScheme& scheme) {
  ActivationPlan plan;
  plan.sites = scheme.activation;
  plan.attention = scheme.activation;
  plan.attention.enabled =
      scheme.activation.enabled &&
      scheme.activation.granularity == quant::Granularity::kPerTensor;
  plan.probabilities = plan.attention;
  return plan;
}

BlockSession::BlockSession(model::Block& block, const BlockInputs& inputs,
                           const MethodContext& context, ActivationPlan plan)
    : block_(block),
      inputs_(inputs),
      context_(context),
      plan_(std::move(plan)),
      activations_(std::make_unique<ActivationQuantizers>(block)) {}

BlockSession::~BlockSession() = default;

at::Tensor BlockSession::Forward(size_t index) {
  if (index >= inputs_.quantized.size()) {
    throw MethodError("block " + block_.prefix() + ": no calibration batch " +
                      std::to_string(index) + " (the method reads data)");
  }
  const at::Tensor& x = inputs_.quantized[index];
  return block_.Forward(x, context_.contexts->For(x.size(0)));
}

at::Tensor BlockSession::Capture(model::HookPoint point, size_t index) {
  at::Tensor captured;
  activations_->SetRecorder(point,
                            [&captured](const at::Tensor& x) { captured = x; });
  try {
    Forward(index);
  } catch (...) {
    activations_->SetRecorder(point, nullptr);
    throw;
  }
  activations_->SetRecorder(point, nullptr);
  if (!captured.defined()) {
    throw MethodError("block " + block_.prefix() + ": hook point '" +
                      std::string(model::HookPointName(point)) +
                      "' was not reached by the forward pass");
  }
  return captured;
}

void BlockSession::RequireUnquantizedConsumers(
    const model::InputSite& site) const {
  for (const std::string& name : site.consumers) {
    if (weights_.count(name) != 0) {
      throw MethodError("block " + block_.prefix() + ": '" + name +
                        "' is already quantized; transform site '" + site.name +
                        "' before quantizing it");
    }
  }
}

void BlockSession::TransformSite(const model::InputSite& site,
                                 const at::Tensor& shift,
                                 const at::Tensor& scale) {
  RequireUnquantizedConsumers(site);
  InputTransform transform = methods::TransformSite(block_, site, shift, scale);
  if (!transform.empty()) activations_->AddTransform(site.point, transform);
}

void BlockSession::ScaleThroughProducer(const model::InputSite& site,
                                        const at::Tensor& scale) {
  RequireUnquantizedConsumers(site);
  const at::Tensor before = site.producer.empty()
                                ? at::Tensor()
                                : block_.linear(site.producer).weight;
  methods::ScaleThroughProducer(block_, site, scale);
  auto found = weights_.find(site.producer);
  if (found == weights_.end() || !found->second.config.enabled) return;
  // The producer was quantized already: keep it exactly on its grid.
  WeightState& state = found->second;
  QuantizedWeight folded =
      DivideQuantizedRows(before, state.qparams, state.config, scale);
  block_.linear(site.producer).weight = folded.weight;
  state.qparams = folded.qparams;
  if (state.fp_weight.defined()) {
    state.fp_weight = state.fp_weight / scale.unsqueeze(1);
  }
}

void BlockSession::QuantizeSite(const model::InputSite& site) {
  std::vector<std::string> pending;
  for (const std::string& name : site.consumers) {
    if (weights_.count(name) == 0) pending.push_back(name);
  }
  const quant::QuantConfig& config = context_.scheme->weight;
  if (context_.rounder != nullptr && config.enabled && !pending.empty()) {
    std::vector<WeightState> rounded =
        context_.rounder->Round(*this, site, pending);
    if (rounded.size() != pending.size()) {
      throw MethodError("block " + block_.prefix() + ": the rounding stage " +
                        "returned " + std::to_string(rounded.size()) +
                        " weights for site '" + site.name + "', expected " +
                        std::to_string(pending.size()));
    }
    for (size_t i = 0; i < pending.size(); ++i) {
      weights_[pending[i]] = std::move(rounded[i]);
    }
  } else {
    for (const std::string& name : pending) {
      model::Linear& layer = block_.linear(name);
      const at::Tensor layer_fp = layer.weight;
      QuantizedWeight quantized = QuantizeWeight(layer.weight, config);
      layer.weight = quantized.weight;
      weights_[name] = WeightState{name, config, quantized.qparams,
                                   config.enabled ? layer_fp : at::Tensor()};
    }
  }
  activations_->Enable(site.point, plan_.sites);
}

void BlockSession::WithUnquantizedWeights(const std::function<void()>& body) {
  std::vector<std::pair<model::Linear*, at::Tensor>> swapped;
  auto restore = [&swapped] {
    for (auto& [layer, quantized] : swapped) layer->weight = quantized;
  };
  for (const auto& [name, state] : weights_) {
    if (!state.fp_weight.defined()) continue;
    model::Linear& layer = block_.linear(name);
    swapped.emplace_back(&layer, layer.weight);
    layer.weight = state.fp_weight.to(layer.weight.scalar_type());
  }
  try {
    body();
  } catch (...) {
    restore();
    throw;
  }
  restore();
}

void BlockSession::EnableAttentionQuantizers() {
  for (model::HookPoint point : kAttentionPoints) {
    activations_->Enable(point, plan_.attention);
  }
  activations_->Enable(model::HookPoint::kProbs, plan_.probabilities);
}

void BlockSession::CalibrateActivations() {
  activations_->ResetStatic();
  // Dynamic quantizers (and frozen static ones) observe nothing: no forward.
  if (activations_->HasUnfrozenStatic()) {
    activations_->SetMode(HookMode::kObserveApply);
    for (size_t i = 0; i < batch_count(); ++i) Forward(i);
    activations_->FreezeStatic();
  }
  activations_->SetMode(HookMode::kApply);
}

std::string BlockSession::FigureName(const std::string& suffix) const {
  return "blocks." + std::to_string(block_.index()) + "." + suffix;
}

BlockOutcome BlockSession::Finish() {
  BlockOutcome outcome;
  outcome.state.activations = activations_->States();
  for (const std::string& name : block_.LinearNames()) {
    auto found = weights_.find(name);
    if (found != weights_.end()) {
      outcome.state.weights.push_back(found->second);
    }
  }
  outcome.figures = std::move(figures_);
  activations_.reset();  // Drops the hooks that point into it.
  InstallActivationQuantizers(block_, outcome.state);
  return outcome;
}

BlockOutcome RunStandardFlow(model::Block& block, const BlockInputs& inputs,
                             const MethodContext& context,
                             const ActivationPlan& plan,
                             const SiteTransformer& transform,
                             const Calibrator& calibrate) {
  BlockSession session(block, inputs, context, plan);
  for (const model::InputSite& site : block.Sites()) {
    if (transform) transform(session, site);
    session.QuantizeSite(site);
    if (site.point == model::HookPoint::kAttnIn) {
      session.EnableAttentionQuantizers();
    }
  }
  if (calibrate) {
    calibrate(session);
  } else {
    session.CalibrateActivations();
  }
  return session.Finish();
}

BlockSnapshot::BlockSnapshot(const model::Block& block) {
  for (const std::string& name : block.LinearNames()) {
    linears_.emplace_back(name, block.linear(name));
  }
  for (const std::string& name : block.NormNames()) {
    norms_.emplace_back(name, block.norm(name));
  }
}

void BlockSnapshot::Restore(model::Block& block) const {
  for (const auto& [name, layer] : linears_) block.linear(name) = layer;
  for (const auto& [name, layer] : norms_) block.norm(name) = layer;
  block.ClearHooks();
}

std::vector<at::Tensor> BlockOutputs(const model::Block& block,
                                     const std::vector<at::Tensor>& batches,
                                     ContextCache& contexts) {
  std::vector<at::Tensor> outputs;
  outputs.reserve(batches.size());
  for (const at::Tensor& x : batches) {
    outputs.push_back(block.Forward(x, contexts.For(x.size(0))));
  }
  return outputs;
}

double MeanSquaredError(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).pow(2).mean().item<double>();
}

}  // namespace quantd::engine::methods
