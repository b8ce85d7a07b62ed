#include "worker/engine/quant/observer.h"

#include "worker/engine/quant/granularity.h"
#include "worker/engine/quant/minmax_observer.h"
#include "worker/engine/quant/mse_observer.h"
#include "worker/engine/quant/quantile_observer.h"
#include "worker/engine/quant/token_pruned_observer.h"

namespace quantd::engine::quant {

void Observer::ObserveTokens(const at::Tensor& x,
                             const at::Tensor& token_mask) {
  const at::Tensor kept = SelectTokens(x, token_mask);
  if (kept.numel() == 0) return;
  Observe(kept);
}

std::unique_ptr<Observer> MakeObserver(const QuantConfig& config) {
  ValidateQuantConfig(config);
  const ObserverOptions& options = config.observer_options;
  const auto minmax = [&](Accumulation accumulation) {
    return std::make_unique<MinMaxObserver>(
        config.granularity, config.group_size, accumulation, options.ema_decay);
  };
  switch (config.observer) {
    case ObserverKind::kMinMax:
      return minmax(Accumulation::kOverwrite);
    case ObserverKind::kRunningMinMax:
      return minmax(Accumulation::kRunning);
    case ObserverKind::kAvgMinMax:
      return minmax(Accumulation::kAverage);
    case ObserverKind::kEmaMinMax:
      return minmax(Accumulation::kEma);
    case ObserverKind::kAvgQuantile:
      return std::make_unique<QuantileObserver>(options.quantile_threshold,
                                                options.histogram_bins,
                                                Accumulation::kAverage);
    case ObserverKind::kEmaQuantile:
      return std::make_unique<QuantileObserver>(
          options.quantile_threshold, options.histogram_bins,
          Accumulation::kEma, options.ema_decay);
    case ObserverKind::kMse:
      return std::make_unique<MseObserver>(config, Accumulation::kRunning);
    case ObserverKind::kAvgMse:
      return std::make_unique<MseObserver>(config, Accumulation::kAverage);
    case ObserverKind::kTokenPrunedMinMax:
      return std::make_unique<TokenPrunedMinMaxObserver>(
          options.token_quantile);
  }
  return minmax(Accumulation::kOverwrite);
}

}  // namespace quantd::engine::quant
