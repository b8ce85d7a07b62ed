#include "worker/engine/methods/token_clipping.h"

#include <cmath>
#include <limits>

namespace quantd::engine::methods {
namespace {

// round(x) to two significant digits, as OS's float('%.2g').
double RoundTwoSignificant(double x) {
  if (x == 0.0) return 0.0;
  const double digits = std::floor(std::log10(std::fabs(x)));
  const double factor = std::pow(10.0, 1.0 - digits);
  return std::nearbyint(x * factor) / factor;
}

// Token-pruned observers with quantile α; every static quantizer forgets.
void ConfigureClipping(BlockSession& session, double alpha) {
  ActivationQuantizers& activations = session.activations();
  for (model::HookPoint point : activations.EnabledPoints()) {
    quant::QuantConfig config = activations.config(point);
    if (config.observer != quant::ObserverKind::kTokenPrunedMinMax) continue;
    config.observer_options.token_quantile = alpha;
    activations.Enable(point, config);
  }
  activations.ResetStatic();
}

// Observes every batch in FP (fake quantization off), then freezes.
void ObserveRanges(BlockSession& session) {
  session.activations().SetMode(HookMode::kObserveOnly);
  for (size_t i = 0; i < session.batch_count(); ++i) session.Forward(i);
  session.activations().FreezeStatic();
  session.activations().SetMode(HookMode::kApply);
}

double ClippingLoss(BlockSession& session,
                    const std::vector<at::Tensor>& target) {
  double loss = 0.0;
  for (size_t i = 0; i < session.batch_count(); ++i) {
    loss += MeanSquaredError(session.Forward(i), target.at(i));
  }
  return loss;
}

}  // namespace

bool ClipsTokens(const quant::QuantConfig& config) {
  return config.enabled && !config.dynamic &&
         config.granularity == quant::Granularity::kPerTensor;
}

ActivationPlan WithTokenClipping(ActivationPlan plan) {
  if (ClipsTokens(plan.sites)) {
    plan.sites.observer = quant::ObserverKind::kTokenPrunedMinMax;
  }
  if (ClipsTokens(plan.attention)) {
    plan.attention.observer = quant::ObserverKind::kTokenPrunedMinMax;
    plan.probabilities = plan.attention;
    plan.probabilities.observer = quant::ObserverKind::kAvgMinMax;
  }
  return plan;
}

std::vector<double> ClippingGrid(int bits, int64_t batch, int64_t seq_len) {
  const double step =
      std::min(0.01, RoundTwoSignificant(128.0 * 32.0 * 0.01 /
                                         static_cast<double>(batch * seq_len)));
  const double span = bits >= 8 ? 0.1 : (bits >= 6 ? 0.3 : 0.9);
  const int iterations = static_cast<int>(std::lround(span / step));
  std::vector<double> alphas;
  for (int i = 0; i < iterations; ++i) alphas.push_back(1.0 - i * step);
  return alphas;
}

void SearchTokenClipping(BlockSession& session,
                         const std::vector<at::Tensor>& target) {
  const at::Tensor& first = session.inputs().quantized.front();
  const int bits = session.context().scheme->activation.bits;
  LayerFigure figure;
  figure.name = session.FigureName("token_clipping");
  double best_alpha = 1.0;
  double best = std::numeric_limits<double>::infinity();
  for (double alpha : ClippingGrid(bits, first.size(0), first.size(1))) {
    ConfigureClipping(session, alpha);
    ObserveRanges(session);
    const double loss = ClippingLoss(session, target);
    if (std::isnan(figure.loss_before)) figure.loss_before = loss;
    if (loss < best) {
      best = loss;
      best_alpha = alpha;
    }
  }
  ConfigureClipping(session, best_alpha);
  ObserveRanges(session);
  figure.loss_after = best;
  figure.threshold = best_alpha;
  session.AddFigure(std::move(figure));
}

}  // namespace quantd::engine::methods
