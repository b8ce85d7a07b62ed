// MseObserver: per batch, grid-searches the range whose fake quantization
// minimizes mean((x̂ - x)²) for each granularity row (per_tensor or
// per_channel / per_group), as OS's MSEObserver (docs/ALGORITHMS.md §1.2):
//   1-D (symmetric configs, or rows whose data are one-sided): with
//     T = max(|min|, max), thresholds t_i = T / N · i, i = 1..N; candidate
//     [-t, t], or [0, t] / [-t, 0] for non-negative / non-positive rows.
//   2-D (asymmetric, rows with both signs): span r_i = (max - min) / N · i,
//     Δ_i = r_i / (qmax - qmin); for every integer zp in [qmin, qmax]:
//     [max(-zp·Δ_i, min), min(r_i - zp·Δ_i, max)].
// A candidate replaces the best only when strictly better, so ties keep
// the earlier one. The one-sided test is made per row (OS makes it once
// per tensor). Cost: O(N · (qmax - qmin + 1) · numel) for the 2-D search,
// so this is meant for weights and modest activations (4-bit is 16x
// cheaper than 8-bit).
//
// Ownership: owns its accumulated range. Not thread-safe.
#pragma once

#include <ATen/ATen.h>

#include "worker/engine/quant/observer.h"
#include "worker/engine/quant/range_accumulator.h"

namespace quantd::engine::quant {

// The searched range of one tensor under `config` (its bits, symmetry,
// grid, zero inclusion, granularity and observer_options.mse_steps = N).
MinMaxRange SearchMseRange(const at::Tensor& x, const QuantConfig& config);

class MseObserver : public Observer {
 public:
  // accumulation: kRunning (OS MSEObserver) or kAverage (AvgMSEObserver).
  MseObserver(const QuantConfig& config, Accumulation accumulation);

  void Observe(const at::Tensor& x) override;
  bool HasRange() const override { return !accumulator_.empty(); }
  MinMaxRange Range() const override { return accumulator_.Get(); }
  void Reset() override { accumulator_.Reset(); }

 private:
  QuantConfig config_;
  RangeAccumulator accumulator_;
};

}  // namespace quantd::engine::quant
