// QuantileObserver: clips each batch's range at a quantile of |x| read off
// a histogram, as OS+/OS's AvgQuantileObserver and EMAQuantileObserver
// (docs/ALGORITHMS.md §1.2). Per-tensor only.
//
// Ownership: owns its accumulated range. Not thread-safe.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "worker/engine/quant/observer.h"
#include "worker/engine/quant/range_accumulator.h"

namespace quantd::engine::quant {

// The clip value of one batch: a `bins`-bin histogram of |x| over
// [0, max|x|]; the first bin whose cumulative count reaches
// threshold · numel gives clip = (bin + 0.5) · max|x| / bins, computed in
// float32 like the reference. 0 for an all-zero x. Throws QuantError on an
// empty x.
float QuantileClip(const at::Tensor& x, double threshold, int64_t bins);

class QuantileObserver : public Observer {
 public:
  // accumulation: kAverage or kEma (ema_decay is the old value's weight).
  QuantileObserver(double threshold, int64_t bins, Accumulation accumulation,
                   double ema_decay = 0.9);

  // Batch range: min ← max(min(x), -clip), max ← min(max(x), clip).
  void Observe(const at::Tensor& x) override;
  bool HasRange() const override { return !accumulator_.empty(); }
  MinMaxRange Range() const override { return accumulator_.Get(); }
  void Reset() override { accumulator_.Reset(); }

 private:
  double threshold_;
  int64_t bins_;
  RangeAccumulator accumulator_;
};

}  // namespace quantd::engine::quant
