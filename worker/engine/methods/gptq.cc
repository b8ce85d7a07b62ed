// GPTQ (Frantar et al., 2022; docs/GPTQ.md): a weight rounding method, alone
// (RTN's flow with GPTQ's rounding) or as a recipe's last stage after a
// transform (osplus+gptq: the site is transformed first). The block's input
// sites are taken in dataflow order (attn_in → q, k, v;
// attn_out_in → o; mlp_in → gate, up; mlp_out_in → down, or the OPT/BERT
// equivalents), as the reference's true-sequential mode does: the Hessian
// H = 2·XXᵀ/N of a site is accumulated batch by batch over the quantized
// calibration stream with every earlier site's weights already quantized,
// shared by the site's consumers, which gptq_solver solves as one weight
// stacked by rows (rows are independent given H). Activations get the scheme's
// quantizers and are calibrated as RTN does, after all weights (weight-only
// schemes have none).
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

// The consumers of a site share H, and GPTQ treats the rows of a weight
// independently given H (each row keeps its own (Δ, zp) per channel or per
// group), so they are solved as one weight stacked by rows: the column
// sweep runs once per site instead of once per Linear. A per-tensor range
// spans a whole Linear, so those are solved one by one.
std::vector<GptqResult> SolveConsumers(const std::vector<at::Tensor>& weights,
                                       const at::Tensor& hessian,
                                       const quant::QuantConfig& config,
                                       const GptqOptions& options) {
  std::vector<GptqResult> results;
  if (weights.size() == 1 ||
      config.granularity == quant::Granularity::kPerTensor) {
    for (const at::Tensor& weight : weights) {
      results.push_back(SolveGptq(weight, hessian, config, options));
    }
    return results;
  }
  const GptqResult stacked =
      SolveGptq(at::cat(weights, 0), hessian, config, options);
  // Per row, or per (row, group) row-major: a Linear's share is contiguous.
  const int64_t per_row =
      stacked.qparams.scale.numel() / stacked.weight.size(0);
  int64_t row = 0;
  for (const at::Tensor& weight : weights) {
    const int64_t rows = weight.size(0);
    GptqResult result = stacked;
    result.weight = stacked.weight.narrow(0, row, rows).contiguous();
    result.qparams.scale =
        stacked.qparams.scale.narrow(0, row * per_row, rows * per_row)
            .contiguous();
    result.qparams.zero_point =
        stacked.qparams.zero_point.narrow(0, row * per_row, rows * per_row)
            .contiguous();
    results.push_back(std::move(result));
    row += rows;
  }
  return results;
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
    std::vector<at::Tensor> fp_weights;
    for (const std::string& name : consumers) {
      fp_weights.push_back(session.block().linear(name).weight);
    }
    std::vector<GptqResult> solved =
        SolveConsumers(fp_weights, hessian, config, options_);
    std::vector<WeightState> states;
    for (size_t i = 0; i < consumers.size(); ++i) {
      const at::Tensor& fp_weight = fp_weights[i];
      session.block().linear(consumers[i]).weight =
          solved[i].weight.to(fp_weight.scalar_type());
      states.push_back(
          WeightState{consumers[i], config, solved[i].qparams, fp_weight});
      LayerFigure figure;
      figure.name = session.FigureName(consumers[i]);
      figure.loss_before = LayerOutputError(
          fp_weight, QuantizeWeight(fp_weight, config).weight, hessian);
      figure.loss_after =
          LayerOutputError(fp_weight, solved[i].weight, hessian);
      figure.threshold = solved[i].dampening_percent;
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
