// TokenPrunedMinMaxObserver: OS's coarse token-wise clipping
// (AvgPruneMinMaxObserver, docs/ALGORITHMS.md §3.2; OS+'s
// AvgTokenQuantileObserver is the same rule with a fixed quantile). Outlier
// tokens are pruned from each batch's range by a quantile over token-wise
// extrema, and batch ranges are averaged. Per-tensor only; feed it through
// ObserveTokens to drop padding first.
//
// Ownership: owns its accumulated range. Not thread-safe.
#pragma once

#include <ATen/ATen.h>

#include "worker/engine/quant/observer.h"
#include "worker/engine/quant/range_accumulator.h"

namespace quantd::engine::quant {

// One batch's range. tokens is viewed as V [-1, C] (C = last dim):
//   u_t = max_j V[t, j], l_t = min_j V[t, j];
//   U = quantile(|u|, alpha), L = -quantile(|l|, alpha) (linear
//   interpolation, as torch.quantile);
//   upper = max{u_t : u_t <= U}, lower = min{l_t : l_t >= L} (U and L
//   themselves when no token qualifies);
//   the range is min/max of V clipped to [lower, upper].
// alpha = 1 gives the plain min/max. Throws QuantError on an empty input.
MinMaxRange TokenPrunedRange(const at::Tensor& tokens, double alpha);

class TokenPrunedMinMaxObserver : public Observer {
 public:
  explicit TokenPrunedMinMaxObserver(double alpha);

  void Observe(const at::Tensor& x) override;
  bool HasRange() const override { return !accumulator_.empty(); }
  MinMaxRange Range() const override { return accumulator_.Get(); }
  void Reset() override { accumulator_.Reset(); }

 private:
  double alpha_;
  RangeAccumulator accumulator_;
};

}  // namespace quantd::engine::quant
