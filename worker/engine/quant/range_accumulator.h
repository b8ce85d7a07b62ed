// RangeAccumulator: combines per-batch (min, max) ranges into the
// calibrated range, by overwriting, running min/max, arithmetic mean or
// exponential moving average (docs/ALGORITHMS.md §1.2). Shared by every
// observer.
//
// Ownership: owns copies of the accumulated tensors (float32, on the device
// of the first batch). Not thread-safe.
#pragma once

#include <cstdint>

#include "worker/engine/quant/min_max_range.h"

namespace quantd::engine::quant {

enum class Accumulation {
  kOverwrite,  // The latest batch wins (OS+ MinMaxObserver).
  kRunning,    // min of mins, max of maxes (OS MinMaxObserver).
  kAverage,    // (old · n + batch) / (n + 1), as OS+ AvgMinMaxObserver.
  kEma,        // old · decay + batch · (1 - decay); the first batch sets it.
};

class RangeAccumulator {
 public:
  explicit RangeAccumulator(Accumulation mode, double ema_decay = 0.9);

  // Adds one batch's range; throws QuantError when its shape differs from
  // the earlier batches' (e.g. per-channel ranges of different widths).
  void Add(const MinMaxRange& batch);

  bool empty() const { return batches_ == 0; }
  int64_t batches() const { return batches_; }
  // The accumulated range; throws QuantError when empty.
  MinMaxRange Get() const;
  void Reset();

 private:
  Accumulation mode_;
  double ema_decay_;
  int64_t batches_ = 0;
  MinMaxRange range_;
};

}  // namespace quantd::engine::quant
