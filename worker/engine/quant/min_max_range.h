// MinMaxRange: a (min, max) pair of float32 tensors, the currency between
// observers, range searches and ComputeQParams. Both are 0-dim for a
// per-tensor range and 1-D [rows] for a per-row range (see granularity.h).
#pragma once

#include <ATen/ATen.h>

namespace quantd::engine::quant {

struct MinMaxRange {
  at::Tensor min;
  at::Tensor max;
};

}  // namespace quantd::engine::quant
