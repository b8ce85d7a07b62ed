// SmoothQuant (docs/ALGORITHMS.md §4): at LN1 → {q, k, v} and LN2 → fc1
// (or {gate, up}), s_j = max|X_j|^α / max|W_j|^(1−α), clamped to ≥ 1e-5,
// with max|X_j| the running max over every calibration batch and max|W_j|
// over the rows of all consumers together; the norm (or, for Post-LN sites,
// the site's hook) divides by s and the consumers' columns multiply by it.
// No shift, no other pairs. The statistics come from the unmodified block
// on the quantized stream (the reference uses the FP model; block-wise, the
// quantized stream is what the block will see).
//
// With method_params.alpha_search, α is chosen per block on a grid by the
// MSE of the quantized block's output against the FP block's output on the
// statistics batch.
#include <cmath>
#include <limits>
#include <map>

#include "worker/engine/methods/block_session.h"
#include "worker/engine/methods/builtin_methods.h"
#include "worker/engine/methods/equivalent_transform.h"

namespace quantd::engine::methods {
namespace {

constexpr double kMinScale = 1e-5;

bool Smoothable(const model::InputSite& site) {
  return (site.point == model::HookPoint::kAttnIn ||
          site.point == model::HookPoint::kMlpIn) &&
         CanScaleSite(site);
}

using AbsMaxStats = std::map<model::HookPoint, at::Tensor>;

// Per-channel running max of |X| at every smoothable site, over all batches
// of the unmodified block.
AbsMaxStats CollectAbsMax(model::Block& block, const BlockInputs& inputs,
                          ContextCache& contexts) {
  AbsMaxStats stats;
  ActivationQuantizers hooks(block);
  for (const model::InputSite& site : block.Sites()) {
    if (!Smoothable(site)) continue;
    model::HookPoint point = site.point;
    hooks.SetRecorder(point, [&stats, point](const at::Tensor& x) {
      at::Tensor m = std::get<0>(x.abs().reshape({-1, x.size(-1)}).max(0));
      at::Tensor& slot = stats[point];
      slot = slot.defined() ? at::maximum(slot, m) : m;
    });
  }
  hooks.SetMode(HookMode::kOff);
  BlockOutputs(block, inputs.quantized, contexts);
  return stats;
}

class SmoothQuantMethod : public Method {
 public:
  explicit SmoothQuantMethod(const MethodParams& params)
      : alpha_(params.Number("alpha")),
        alpha_search_(params.Bool("alpha_search")),
        alpha_step_(params.Number("alpha_step")) {}

  BlockOutcome QuantizeBlock(model::Block& block, const BlockInputs& inputs,
                             const MethodContext& context) override {
    AbsMaxStats stats = CollectAbsMax(block, inputs, *context.contexts);
    if (!alpha_search_) return Smooth(block, inputs, context, stats, alpha_);
    const double alpha = SearchAlpha(block, inputs, context, stats);
    return Smooth(block, inputs, context, stats, alpha);
  }

 private:
  BlockOutcome Smooth(model::Block& block, const BlockInputs& inputs,
                      const MethodContext& context, const AbsMaxStats& stats,
                      double alpha) {
    return RunStandardFlow(
        block, inputs, context, DefaultActivationPlan(*context.scheme),
        [&](BlockSession& session, const model::InputSite& site) {
          auto found = stats.find(site.point);
          if (!Smoothable(site) || found == stats.end()) return;
          at::Tensor weight_max;
          for (const model::Linear& layer :
               session.block().Consumers(site.name)) {
            at::Tensor m = std::get<0>(layer.weight.abs().max(0));
            weight_max = weight_max.defined() ? at::maximum(weight_max, m) : m;
          }
          weight_max = weight_max.clamp_min(kMinScale);
          at::Tensor scale =
              (found->second.pow(alpha) / weight_max.pow(1.0 - alpha))
                  .clamp_min(kMinScale);
          session.TransformSite(site, at::Tensor(), scale);
          LayerFigure figure;
          figure.name = session.FigureName(site.name);
          figure.threshold = alpha;
          SetScaleFigures(figure, scale);
          session.AddFigure(std::move(figure));
        });
  }

  // The α of the grid alpha_step, 2·alpha_step, ... < 1 whose quantized
  // block output on the statistics batch is closest to the FP output;
  // ties keep the smaller α.
  double SearchAlpha(model::Block& block, const BlockInputs& inputs,
                     const MethodContext& context, const AbsMaxStats& stats) {
    BlockSnapshot snapshot(block);
    const at::Tensor& x = inputs.quantized.front();
    const model::ForwardContext& batch = context.contexts->For(x.size(0));
    const at::Tensor target = block.Forward(x, batch);
    BlockInputs first;
    first.quantized = {x};
    double best_alpha = alpha_;
    double best_loss = std::numeric_limits<double>::infinity();
    const int steps = static_cast<int>(std::floor(1.0 / alpha_step_ - 1e-9));
    for (int i = 1; i <= steps; ++i) {
      const double alpha = alpha_step_ * i;
      snapshot.Restore(block);
      Smooth(block, first, context, stats, alpha);
      const double loss = MeanSquaredError(block.Forward(x, batch), target);
      if (loss < best_loss) {
        best_loss = loss;
        best_alpha = alpha;
      }
    }
    snapshot.Restore(block);
    return best_alpha;
  }

  double alpha_;
  bool alpha_search_;
  double alpha_step_;
};

}  // namespace

MethodInfo SmoothQuantMethodInfo() {
  return BindMethod("smoothquant", [](const MethodParams& params) {
    return std::make_unique<SmoothQuantMethod>(params);
  });
}

}  // namespace quantd::engine::methods
