#include "worker/engine/quant/quantile_observer.h"

#include <c10/util/StringUtil.h>

#include "worker/engine/quant/errors.h"
#include "worker/engine/quant/granularity.h"

namespace quantd::engine::quant {

float QuantileClip(const at::Tensor& x, double threshold, int64_t bins) {
  if (x.numel() == 0) {
    throw QuantError("QuantileClip: empty tensor has no quantile");
  }
  if (bins < 1) {
    throw QuantError(c10::str("QuantileClip: bins ", bins, " must be >= 1"));
  }
  const at::Tensor magnitude = x.to(at::kFloat).abs().reshape({-1});
  const float max_abs = magnitude.max().item<float>();
  if (!(max_abs > 0.0f)) return max_abs;  // All zero (or NaN).
  // Counts go to double before the prefix sum: float32 is exact only up to
  // 2^24 elements.
  const at::Tensor cumulative =
      at::histc(magnitude, bins, 0.0, static_cast<double>(max_abs))
          .to(at::kCPU, at::kDouble)
          .cumsum(0);
  const double target = threshold * static_cast<double>(magnitude.numel());
  const auto counts = cumulative.accessor<double, 1>();
  int64_t bin = bins - 1;
  for (int64_t i = 0; i < bins; ++i) {
    if (counts[i] >= target) {
      bin = i;
      break;
    }
  }
  const float width = max_abs / static_cast<float>(bins);
  return (static_cast<float>(bin) + 0.5f) * width;
}

QuantileObserver::QuantileObserver(double threshold, int64_t bins,
                                   Accumulation accumulation, double ema_decay)
    : threshold_(threshold),
      bins_(bins),
      accumulator_(accumulation, ema_decay) {}

void QuantileObserver::Observe(const at::Tensor& x) {
  const MinMaxRange batch = RowMinMax(x, Granularity::kPerTensor, 0);
  const double clip = QuantileClip(x, threshold_, bins_);
  accumulator_.Add(
      {at::clamp_min(batch.min, -clip), at::clamp_max(batch.max, clip)});
}

}  // namespace quantd::engine::quant
