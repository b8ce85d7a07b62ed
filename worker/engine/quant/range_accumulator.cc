#include "worker/engine/quant/range_accumulator.h"

#include <c10/util/StringUtil.h>

#include "worker/engine/quant/errors.h"

namespace quantd::engine::quant {

RangeAccumulator::RangeAccumulator(Accumulation mode, double ema_decay)
    : mode_(mode), ema_decay_(ema_decay) {}

void RangeAccumulator::Add(const MinMaxRange& batch) {
  if (!batch.min.defined() || !batch.max.defined() ||
      !batch.min.sizes().equals(batch.max.sizes())) {
    throw QuantError("RangeAccumulator: batch min and max must match");
  }
  if (batches_ > 0 && !batch.min.sizes().equals(range_.min.sizes())) {
    throw QuantError(c10::str("RangeAccumulator: batch range of shape ",
                              batch.min.sizes(), " after ",
                              range_.min.sizes()));
  }
  if (batches_ == 0 || mode_ == Accumulation::kOverwrite) {
    range_ = {batch.min.to(at::kFloat).clone(),
              batch.max.to(at::kFloat).clone()};
    ++batches_;
    return;
  }
  const at::Tensor min = batch.min.to(range_.min.device(), at::kFloat);
  const at::Tensor max = batch.max.to(range_.max.device(), at::kFloat);
  switch (mode_) {
    case Accumulation::kRunning:
      range_ = {at::minimum(range_.min, min), at::maximum(range_.max, max)};
      break;
    case Accumulation::kAverage: {
      const double n = static_cast<double>(batches_);
      range_ = {(range_.min * n + min) / (n + 1.0),
                (range_.max * n + max) / (n + 1.0)};
      break;
    }
    case Accumulation::kEma:
      range_ = {range_.min * ema_decay_ + min * (1.0 - ema_decay_),
                range_.max * ema_decay_ + max * (1.0 - ema_decay_)};
      break;
    case Accumulation::kOverwrite:
      break;  // Handled above.
  }
  ++batches_;
}

MinMaxRange RangeAccumulator::Get() const {
  if (batches_ == 0) {
    throw QuantError("observer: no batch observed yet, so there is no range");
  }
  return range_;
}

void RangeAccumulator::Reset() {
  batches_ = 0;
  range_ = {};
}

}  // namespace quantd::engine::quant
