// Observer: the calibration-time statistic of a static quantizer. It sees
// batches (Observe) and reports the calibrated (min, max) range (Range),
// from which ComputeQParams derives (Δ, zp). Implementations:
// minmax_observer.h (MinMax overwrite/running/avg/EMA), quantile_observer.h,
// mse_observer.h, token_pruned_observer.h; MakeObserver builds the one a
// QuantConfig names. Ranges are 0-dim for per_tensor and [rows] for
// per_channel / per_group (rows of granularity.h's view).
//
// Ownership: an observer owns its accumulated tensors. Not thread-safe.
#pragma once

#include <ATen/ATen.h>

#include <memory>

#include "worker/engine/quant/min_max_range.h"
#include "worker/engine/quant/quant_config.h"

namespace quantd::engine::quant {

class Observer {
 public:
  virtual ~Observer() = default;

  // Feeds one calibration batch (for weights: the whole weight). Throws
  // QuantError on an empty tensor or a shape the granularity cannot view.
  virtual void Observe(const at::Tensor& x) = 0;

  // Feeds activations x [..., C] after dropping padding tokens (token_mask
  // false; shape x.shape[:-1]). A batch with no real token is skipped.
  void ObserveTokens(const at::Tensor& x, const at::Tensor& token_mask);

  // Whether a batch has been observed since construction or Reset.
  virtual bool HasRange() const = 0;

  // The calibrated range (float32); throws QuantError before any batch.
  virtual MinMaxRange Range() const = 0;

  // Forgets every batch.
  virtual void Reset() = 0;
};

// The observer named by config.observer with config's granularity and
// observer_options. Validates the config first (ConfigError).
std::unique_ptr<Observer> MakeObserver(const QuantConfig& config);

}  // namespace quantd::engine::quant
