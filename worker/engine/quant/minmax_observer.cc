#include "worker/engine/quant/minmax_observer.h"

#include "worker/engine/quant/granularity.h"

namespace quantd::engine::quant {

MinMaxObserver::MinMaxObserver(Granularity granularity, int64_t group_size,
                               Accumulation accumulation, double ema_decay)
    : granularity_(granularity),
      group_size_(group_size),
      accumulator_(accumulation, ema_decay) {}

void MinMaxObserver::Observe(const at::Tensor& x) {
  accumulator_.Add(RowMinMax(x, granularity_, group_size_));
}

}  // namespace quantd::engine::quant
