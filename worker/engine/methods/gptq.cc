// GPTQ (Frantar et al., 2022; docs/GPTQ.md): a weight rounding method, alone
// (RTN's flow with GPTQ's rounding) or as a recipe's last stage after a
// transform (osplus+gptq: the site is transformed first). The block's input
// sites are taken in dataflow order (attn_in → q, k, v;
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
#include <string>
#include <vector>

#include "worker/engine/methods/block_session.h"
#include "worker/engine/methods/builtin_methods.h"
#include "worker/engine/methods/gptq_solver.h"
#include "worker/engine/methods/weight_quant.h"

namespace quantd::engine::methods {
namespace {

// H of the Linears reading `site`, one batch at a time, from the inputs
// they see: after the site's transform where a hook applies it.
at::Tensor SiteHessian(BlockSession& session, const model::InputSite& site) {
  HessianAccumulator accumulator;
  const InputTransform& transform = session.activations().transform(site.point);
  session.activations().SetRecorder(
      site.point, [&accumulator, &transform](const at::Tensor& x) {
        accumulator.Add(transform.Apply(x));
      });
  try {
    for (size_t i = 0; i < session.batch_count(); ++i) session.Forward(i);
  } catch (...) {
    session.activations().SetRecorder(site.point, nullptr);
    throw;
  }
  session.activations().SetRecorder(site.point, nullptr);
  return accumulator.Hessian();
}

class GptqRounder : public WeightRounder {
 public:
  explicit GptqRounder(const MethodParams& params) {
    options_.dampening_percent = params.Number("dampening_percent");
    options_.block_size = params.Integer("block_size");
    options_.act_order = params.Bool("act_order");
    options_.static_groups = params.Has("static_groups")
                                 ? params.Bool("static_groups")
                                 : options_.act_order;
    true_sequential_ = params.Bool("true_sequential");
  }

  std::vector<WeightState> Round(
      BlockSession& session, const model::InputSite& site,
      const std::vector<std::string>& consumers) override {
    const quant::QuantConfig& config = session.context().scheme->weight;
    at::Tensor hessian;
    if (true_sequential_) {
      hessian = SiteHessian(session, site);
    } else {
      session.WithUnquantizedWeights(
          [&] { hessian = SiteHessian(session, site); });
    }
    std::vector<WeightState> states;
    for (const std::string& name : consumers) {
      model::Linear& layer = session.block().linear(name);
      const at::Tensor fp_weight = layer.weight;
      GptqResult solved = SolveGptq(fp_weight, hessian, config, options_);
      layer.weight = solved.weight.to(fp_weight.scalar_type());
      states.push_back(WeightState{name, config, solved.qparams, fp_weight});
      LayerFigure figure;
      figure.name = session.FigureName(name);
      figure.loss_before = LayerOutputError(
          fp_weight, QuantizeWeight(fp_weight, config).weight, hessian);
      figure.loss_after = LayerOutputError(fp_weight, solved.weight, hessian);
      figure.threshold = solved.dampening_percent;
      session.AddFigure(std::move(figure));
    }
    return states;
  }

 private:
  GptqOptions options_;
  bool true_sequential_ = true;
};

}  // namespace

MethodInfo GptqMethodInfo() {
  return BindRoundingMethod("gptq", [](const MethodParams& params) {
    return std::make_unique<GptqRounder>(params);
  });
}

}  // namespace quantd::engine::methods
