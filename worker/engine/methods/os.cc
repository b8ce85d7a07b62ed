// OS, Outlier Suppression (NeurIPS 2022; docs/ALGORITHMS.md §3):
//   * gamma migration: at every LayerNorm-produced input site, X = X' ⊙ γ
//     and X' (the output of a non-scaling LayerNorm) is what gets
//     quantized, γ moving into the consumers' columns; exact in FP. For
//     Post-LN sites the migration rides in the site's hook, so the residual
//     keeps reading X (OS's GammaResidual).
//   * coarse token-wise clipping (token_clipping.h): static per-tensor
//     activation ranges from the token-pruned observer with its quantile
//     searched per block.
// OS's conventions replace the scheme's: the full symmetric grid
// [−2^(b−1), 2^(b−1) − 1] with eps 1e-8. The fine LSQ+ stage is not
// implemented.
#include "worker/engine/methods/block_session.h"
#include "worker/engine/methods/builtin_methods.h"
#include "worker/engine/methods/equivalent_transform.h"
#include "worker/engine/methods/token_clipping.h"

namespace quantd::engine::methods {
namespace {

// |γ_j| below this keeps a scale of 1: β_j / γ_j would blow up.
constexpr double kMinGamma = 1e-6;

quant::QuantConfig OsConvention(quant::QuantConfig config) {
  config.grid = quant::Grid::kOsFull;
  return config;
}

// X = X' ⊙ γ at a LayerNorm-produced site: X' is quantized, γ moves into
// the consumers (the norm becomes non-scaling, or the hook divides by γ).
void MigrateGamma(BlockSession& session, const model::InputSite& site) {
  const bool norm_site = site.point == model::HookPoint::kAttnIn ||
                         site.point == model::HookPoint::kMlpIn;
  if (!norm_site || !CanScaleSite(site)) return;
  const model::Norm* norm = site.norm.empty()
                                ? session.context().input_norm
                                : &session.block().norm(site.norm);
  if (norm == nullptr || norm->kind != model::NormKind::kLayer) return;
  const at::Tensor gamma = norm->weight;
  at::Tensor scale =
      at::where(gamma.abs() < kMinGamma, at::ones_like(gamma), gamma);
  session.TransformSite(site, at::Tensor(), scale);
  LayerFigure figure;
  figure.name = session.FigureName(site.name + ".gamma");
  SetScaleFigures(figure, scale);
  session.AddFigure(std::move(figure));
}

class OsMethod : public Method {
 public:
  explicit OsMethod(const MethodParams& params)
      : token_clipping_(params.Bool("token_clipping")) {}

  BlockOutcome QuantizeBlock(model::Block& block, const BlockInputs& inputs,
                             const MethodContext& context) override {
    quant::QuantScheme scheme = *context.scheme;
    scheme.weight = OsConvention(scheme.weight);
    scheme.activation = OsConvention(scheme.activation);
    MethodContext os_context = context;
    os_context.scheme = &scheme;
    ActivationPlan plan = DefaultActivationPlan(scheme);
    if (!token_clipping_ || !ClipsTokens(plan.sites)) {
      return RunStandardFlow(block, inputs, os_context, plan, MigrateGamma);
    }
    const std::vector<at::Tensor> target =
        BlockOutputs(block, inputs.quantized, *context.contexts);
    return RunStandardFlow(block, inputs, os_context, WithTokenClipping(plan),
                           MigrateGamma, [&target](BlockSession& session) {
                             SearchTokenClipping(session, target);
                           });
  }

 private:
  bool token_clipping_;
};

}  // namespace

MethodInfo OsMethodInfo() {
  return BindMethod("os", [](const MethodParams& params) {
    return std::make_unique<OsMethod>(params);
  });
}

}  // namespace quantd::engine::methods
