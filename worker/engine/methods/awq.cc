// AWQ (Lin et al., 2023, "AWQ: Activation-aware Weight Quantization";
// docs/AWQ.md): a weight-only method. For each input site of a block in
// dataflow order (attn_in → q, k, v; attn_out_in → o when the attention's
// V maps one to one onto its input, i.e. no GQA; mlp_in → gate, up or fc1;
// mlp_out_in → down or fc2 when its producer is positively homogeneous),
// on the quantized calibration stream with the earlier sites already
// quantized:
//   1. statistics: the per-channel mean |x| over every calibration token
//      and, for clipping, the Gram matrix Σ x xᵀ over the search set;
//   2. scale search: s(α) = mean|x|^α / √(max · min) for α = i/grid; each
//      candidate's loss is the block output's MSE against the FP block's
//      output on the search set, with the site's consumers replaced by
//      Q(W·diag(s))·diag(s)⁻¹ (the later sites still FP); α = 0 is plain
//      RTN, so the chosen loss is never above RTN's on the same inputs;
//   3. the chosen s is folded into the producing norm (γ ⊘ s) or producer
//      rows (already quantized: their steps ⊘ s) and the consumers'
//      columns (⊙ s), so the FP block is unchanged;
//   4. clipping (awq_search.h) of every consumer but the query and key
//      projections, on the Gram matrix of the scaled input;
//   5. BlockSession::QuantizeSite rounds the consumers (whatever rounder
//      the session uses).
// Sites whose scale could only be applied by a runtime transform of the
// activation (Post-LN residual sites, a GELU or GQA producer) are not
// scaled, so the result stays a weight-only model; they are still clipped.
//
// Figures, one per site (blocks.<i>.<site>): loss_before / loss_after the
// search loss at α = 0 and at the chosen α, threshold the chosen α, the
// scale's min / max / mean; unscaled sites report the RTN loss twice and
// no threshold.
#include <algorithm>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "worker/engine/methods/awq_search.h"
#include "worker/engine/methods/block_session.h"
#include "worker/engine/methods/builtin_methods.h"
#include "worker/engine/methods/method_error.h"
#include "worker/engine/methods/weight_quant.h"

namespace quantd::engine::methods {
namespace {

// The calibration sequences the losses average: whole sequences, from the
// first batch on, until `search_tokens` tokens are reached (0: all).
// batches[i] is the leading part of input batch i.
struct SearchSet {
  std::vector<at::Tensor> batches;
  int64_t tokens = 0;
};

SearchSet SelectSearchSet(const std::vector<at::Tensor>& inputs,
                          int64_t search_tokens) {
  SearchSet set;
  for (const at::Tensor& x : inputs) {
    int64_t take = x.size(0);
    if (search_tokens > 0) {
      const int64_t missing = search_tokens - set.tokens;
      if (missing <= 0) break;
      take = std::min(take, (missing + x.size(1) - 1) / x.size(1));
    }
    set.batches.push_back(x.narrow(0, 0, take));
    set.tokens += take * x.size(1);
  }
  return set;
}

enum class Fold { kNone, kNorm, kProducer };

// Where a scale of `site` can be absorbed by weights alone.
Fold FoldOf(const model::InputSite& site, const quant::QuantConfig& weight) {
  if (!weight.enabled) return Fold::kNone;
  if (!site.norm.empty() && !site.feeds_residual) return Fold::kNorm;
  // The producer is quantized already; its per-row steps take the scale.
  if (!site.producer.empty() &&
      weight.granularity != quant::Granularity::kPerTensor) {
    return Fold::kProducer;
  }
  return Fold::kNone;
}

// The reference skips the query and key projections: their error reaches
// the output only through the softmax, which a Linear's output error does
// not see.
bool SkipsClipping(const model::InputSite& site, size_t consumer) {
  return site.point == model::HookPoint::kAttnIn &&
         consumer + 1 < site.consumers.size();
}

// Installs a recorder for its lifetime.
class ScopedRecorder {
 public:
  ScopedRecorder(ActivationQuantizers& activations, model::HookPoint point,
                 ActivationQuantizers::Recorder recorder)
      : activations_(activations), point_(point) {
    activations_.SetRecorder(point_, std::move(recorder));
  }
  ~ScopedRecorder() { activations_.SetRecorder(point_, nullptr); }
  ScopedRecorder(const ScopedRecorder&) = delete;
  ScopedRecorder& operator=(const ScopedRecorder&) = delete;

 private:
  ActivationQuantizers& activations_;
  model::HookPoint point_;
};

// Puts the site's consumers back as they were when it was created.
class ConsumerRestore {
 public:
  ConsumerRestore(model::Block& block, const model::InputSite& site)
      : block_(block), site_(site) {
    for (const std::string& name : site.consumers) {
      saved_.push_back(block.linear(name));
    }
  }
  ~ConsumerRestore() {
    for (size_t i = 0; i < saved_.size(); ++i) {
      block_.linear(site_.consumers[i]) = saved_[i];
    }
  }
  ConsumerRestore(const ConsumerRestore&) = delete;
  ConsumerRestore& operator=(const ConsumerRestore&) = delete;

 private:
  model::Block& block_;
  const model::InputSite& site_;
  std::vector<model::Linear> saved_;
};

struct SiteStatistics {
  at::Tensor mean_abs;  // [C] float32, every calibration token.
  at::Tensor gram;      // Σ x xᵀ [C, C] float64 over the search set, or
                        // undefined when not asked for.
};

SiteStatistics CollectStatistics(BlockSession& session,
                                 const model::InputSite& site,
                                 const SearchSet& search, bool with_gram) {
  at::Tensor sum_abs, gram;
  int64_t rows = 0;
  size_t batch = 0;
  ScopedRecorder recorder(
      session.activations(), site.point, [&](const at::Tensor& x) {
        const at::Tensor flat = x.reshape({-1, x.size(-1)});
        const at::Tensor sums = flat.abs().to(at::kDouble).sum(0);
        sum_abs = sum_abs.defined() ? sum_abs + sums : sums;
        rows += flat.size(0);
        if (!with_gram || batch >= search.batches.size()) return;
        const at::Tensor kept = x.narrow(0, 0, search.batches[batch].size(0))
                                    .reshape({-1, x.size(-1)})
                                    .to(at::kDouble);
        const at::Tensor g = at::mm(kept.t(), kept);
        gram = gram.defined() ? gram + g : g;
      });
  for (batch = 0; batch < session.batch_count(); ++batch)
    session.Forward(batch);
  if (!sum_abs.defined() || (with_gram && !gram.defined())) {
    throw MethodError("block " + session.block().prefix() + ": site '" +
                      site.name + "' was not reached by the forward pass");
  }
  return {(sum_abs / static_cast<double>(rows)).to(at::kFloat), gram};
}

struct AlphaChoice {
  double alpha = 0.0;
  at::Tensor scale;
  double loss_before = std::numeric_limits<double>::quiet_NaN();
  double loss_after = std::numeric_limits<double>::infinity();
};

class AwqMethod : public Method {
 public:
  explicit AwqMethod(const MethodParams& params)
      : grid_(params.Integer("grid")),
        clip_(params.Bool("clip")),
        search_tokens_(params.Integer("search_tokens")) {
    clip_options_.grid = params.Integer("clip_grid");
    clip_options_.max_shrink = params.Number("max_shrink");
  }

  BlockOutcome QuantizeBlock(model::Block& block, const BlockInputs& inputs,
                             const MethodContext& context) override {
    const SearchSet search = SelectSearchSet(inputs.quantized, search_tokens_);
    const std::vector<at::Tensor> targets =
        BlockOutputs(block, search.batches, *context.contexts);
    return RunStandardFlow(
        block, inputs, context, DefaultActivationPlan(*context.scheme),
        [&](BlockSession& session, const model::InputSite& site) {
          Transform(session, site, search, targets);
        });
  }

 private:
  void Transform(BlockSession& session, const model::InputSite& site,
                 const SearchSet& search,
                 const std::vector<at::Tensor>& targets) {
    const quant::QuantConfig& weight = session.context().scheme->weight;
    if (!weight.enabled) return;
    const SiteStatistics stats =
        CollectStatistics(session, site, search, clip_);
    const Fold fold = FoldOf(site, weight);
    LayerFigure figure;
    figure.name = session.FigureName(site.name);
    at::Tensor scale;
    if (fold == Fold::kNone) {
      const at::Tensor ones = at::ones_like(stats.mean_abs);
      figure.loss_before = Loss(session, site, ones, search, targets);
      figure.loss_after = figure.loss_before;
    } else {
      const AlphaChoice choice =
          SearchAlpha(session, site, stats.mean_abs, search, targets);
      figure.loss_before = choice.loss_before;
      figure.loss_after = choice.loss_after;
      figure.threshold = choice.alpha;
      SetScaleFigures(figure, choice.scale);
      if (choice.alpha > 0.0) {
        scale = choice.scale;
        if (fold == Fold::kNorm) {
          session.TransformSite(site, at::Tensor(), scale);
        } else {
          session.ScaleThroughProducer(site, scale);
        }
      }
    }
    session.AddFigure(std::move(figure));
    if (clip_) Clip(session, site, stats.gram, search.tokens, scale);
  }

  AlphaChoice SearchAlpha(BlockSession& session, const model::InputSite& site,
                          const at::Tensor& mean_abs, const SearchSet& search,
                          const std::vector<at::Tensor>& targets) const {
    AlphaChoice best;
    for (double alpha : AlphaGrid(grid_)) {
      at::Tensor scale = AwqScale(mean_abs, alpha);
      const double loss = Loss(session, site, scale, search, targets);
      if (alpha == 0.0) best.loss_before = loss;
      // Strict: ties keep the smaller α.
      if (loss < best.loss_after) {
        best.alpha = alpha;
        best.scale = scale;
        best.loss_after = loss;
      }
    }
    if (!best.scale.defined()) {
      throw MethodError("block " + session.block().prefix() + ": site '" +
                        site.name + "': the AWQ loss is not finite");
    }
    return best;
  }

  // The block output's MSE to `targets` on the search set with the site's
  // consumers replaced by Q(W·diag(s))·diag(s)⁻¹.
  static double Loss(BlockSession& session, const model::InputSite& site,
                     const at::Tensor& scale, const SearchSet& search,
                     const std::vector<at::Tensor>& targets) {
    model::Block& block = session.block();
    const quant::QuantConfig& config = session.context().scheme->weight;
    ConsumerRestore restore(block, site);
    const at::Tensor columns = scale.unsqueeze(0);
    for (const std::string& name : site.consumers) {
      model::Linear& layer = block.linear(name);
      layer.weight =
          QuantizeWeight(layer.weight * columns, config).weight / columns;
    }
    double squares = 0.0;
    int64_t count = 0;
    for (size_t i = 0; i < search.batches.size(); ++i) {
      const at::Tensor& x = search.batches[i];
      const at::Tensor y =
          block.Forward(x, session.context().contexts->For(x.size(0)));
      squares += (y.to(at::kDouble) - targets[i].to(at::kDouble))
                     .pow(2)
                     .sum()
                     .item<double>();
      count += y.numel();
    }
    return squares / static_cast<double>(std::max<int64_t>(count, 1));
  }

  // Clips the consumers (but q and k) for their input x ⊘ s.
  void Clip(BlockSession& session, const model::InputSite& site,
            const at::Tensor& gram, int64_t tokens,
            const at::Tensor& scale) const {
    at::Tensor g = gram;
    if (scale.defined()) {
      const at::Tensor s = scale.to(at::kDouble);
      g = gram / at::outer(s, s);
    }
    const quant::QuantConfig& config = session.context().scheme->weight;
    for (size_t i = 0; i < site.consumers.size(); ++i) {
      if (SkipsClipping(site, i)) continue;
      model::Linear& layer = session.block().linear(site.consumers[i]);
      layer.weight =
          SearchWeightClip(layer.weight, g, tokens, config, clip_options_)
              .weight.to(layer.weight.scalar_type());
    }
  }

  int64_t grid_;
  bool clip_;
  int64_t search_tokens_;
  ClipOptions clip_options_;
};

}  // namespace

MethodInfo AwqMethodInfo() {
  return BindMethod("awq", [](const MethodParams& params) {
    return std::make_unique<AwqMethod>(params);
  });
}

}  // namespace quantd::engine::methods
