// GPTQ (Frantar et al., 2022; docs/GPTQ.md): a weight rounding method. The
// block's input sites are taken in dataflow order (attn_in → q, k, v;
// attn_out_in → o; mlp_in → gate, up; mlp_out_in → down, or the OPT/BERT
// equivalents), as the reference's true-sequential mode does: the Hessian
// H = 2·XXᵀ/N of a site is accumulated batch by batch over the quantized
// calibration stream with every earlier site's weights already quantized,
// shared by the site's consumers, and each consumer is solved by
// gptq_solver. Activations get the scheme's quantizers and are calibrated
// as RTN does, after all weights (weight-only schemes have none).
//
// Figures, one per Linear: loss_before / loss_after are the layer's mean
// squared output error on the calibration inputs with RTN's and with
// GPTQ's weights; threshold is the dampening used (above method_params.
// dampening_percent when a non-positive-definite H forced a retry).
#include <map>
#include <string>
#include <vector>

#include "worker/engine/methods/block_session.h"
#include "worker/engine/methods/builtin_methods.h"
#include "worker/engine/methods/gptq_solver.h"
#include "worker/engine/methods/weight_quant.h"

namespace quantd::engine::methods {
namespace {

// H of the Linears reading `point`, one batch at a time.
at::Tensor SiteHessian(BlockSession& session, model::HookPoint point) {
  HessianAccumulator accumulator;
  session.activations().SetRecorder(
      point, [&accumulator](const at::Tensor& x) { accumulator.Add(x); });
  try {
    for (size_t i = 0; i < session.batch_count(); ++i) session.Forward(i);
  } catch (...) {
    session.activations().SetRecorder(point, nullptr);
    throw;
  }
  session.activations().SetRecorder(point, nullptr);
  return accumulator.Hessian();
}

class GptqMethod : public Method {
 public:
  explicit GptqMethod(const MethodParams& params) {
    options_.dampening_percent = params.Number("dampening_percent");
    options_.block_size = params.Integer("block_size");
    options_.act_order = params.Bool("act_order");
    options_.static_groups = params.Has("static_groups")
                                 ? params.Bool("static_groups")
                                 : options_.act_order;
  }

  BlockOutcome QuantizeBlock(model::Block& block, const BlockInputs& inputs,
                             const MethodContext& context) override {
    const ActivationPlan plan = DefaultActivationPlan(*context.scheme);
    BlockSession session(block, inputs, context, plan);
    std::map<std::string, WeightState> weights;
    for (const model::InputSite& site : block.Sites()) {
      QuantizeConsumers(session, site, weights);
      session.activations().Enable(site.point, plan.sites);
      if (site.point == model::HookPoint::kAttnIn) {
        session.EnableAttentionQuantizers();
      }
    }
    session.CalibrateActivations();
    BlockOutcome outcome = session.Finish();
    for (const std::string& name : block.LinearNames()) {
      auto found = weights.find(name);
      if (found != weights.end()) {
        outcome.state.weights.push_back(found->second);
      }
    }
    return outcome;
  }

 private:
  // Solves every consumer of `site` not quantized yet.
  void QuantizeConsumers(BlockSession& session, const model::InputSite& site,
                         std::map<std::string, WeightState>& weights) {
    std::vector<std::string> pending;
    for (const std::string& name : site.consumers) {
      if (weights.count(name) == 0) pending.push_back(name);
    }
    if (pending.empty()) return;
    const quant::QuantConfig& config = session.context().scheme->weight;
    if (!config.enabled) {
      for (const std::string& name : pending) {
        weights[name] = WeightState{name, config, {}, at::Tensor()};
      }
      return;
    }
    const at::Tensor hessian = SiteHessian(session, site.point);
    for (const std::string& name : pending) {
      model::Linear& layer = session.block().linear(name);
      const at::Tensor fp_weight = layer.weight;
      GptqResult solved = SolveGptq(fp_weight, hessian, config, options_);
      layer.weight = solved.weight.to(fp_weight.scalar_type());
      weights[name] = WeightState{name, config, solved.qparams, fp_weight};
      LayerFigure figure;
      figure.name = session.FigureName(name);
      figure.loss_before = LayerOutputError(
          fp_weight, QuantizeWeight(fp_weight, config).weight, hessian);
      figure.loss_after = LayerOutputError(fp_weight, solved.weight, hessian);
      figure.threshold = solved.dampening_percent;
      session.AddFigure(std::move(figure));
    }
  }

  GptqOptions options_;
};

}  // namespace

MethodInfo GptqMethodInfo() {
  return BindMethod("gptq", [](const MethodParams& params) {
    return std::make_unique<GptqMethod>(params);
  });
}

}  // namespace quantd::engine::methods
