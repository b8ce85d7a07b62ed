// MinMaxObserver: per-batch min and max of each granularity row, combined
// across batches by a RangeAccumulator. Covers the MinMax (OS+ overwrite),
// running MinMax (OS), AvgMinMax and EMAMinMax observers of
// docs/ALGORITHMS.md §1.2.
//
// Ownership: owns its accumulated range. Not thread-safe.
#pragma once

#include <cstdint>

#include "worker/engine/quant/observer.h"
#include "worker/engine/quant/range_accumulator.h"

namespace quantd::engine::quant {

class MinMaxObserver : public Observer {
 public:
  // ema_decay is used by Accumulation::kEma only.
  MinMaxObserver(Granularity granularity, int64_t group_size,
                 Accumulation accumulation, double ema_decay = 0.9);

  void Observe(const at::Tensor& x) override;
  bool HasRange() const override { return !accumulator_.empty(); }
  MinMaxRange Range() const override { return accumulator_.Get(); }
  void Reset() override { accumulator_.Reset(); }

 private:
  Granularity granularity_;
  int64_t group_size_;
  RangeAccumulator accumulator_;
};

}  // namespace quantd::engine::quant
