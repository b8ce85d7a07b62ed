// Quantizer: the quantizer of one tensor, binding a QuantConfig to its
// observer and (Δ, zp); the C++ form of OS+'s FixedFakeQuantize
// (docs/ALGORITHMS.md §1.1).
//
// State rules:
//  * Disabled config: Apply is the identity; Observe, Freeze do nothing.
//  * Dynamic config: stateless; Apply and Encode compute (Δ, zp) from each
//    input; Observe and Freeze do nothing; SetRange/SetQParams throw.
//  * Static config: starts calibrating with nothing observed.
//    - Observe feeds the observer and recomputes (Δ, zp) from its range, so
//      Apply during calibration uses the latest range (OS+ runs observer
//      and fake quant together).
//    - Freeze ends calibration; Observe afterwards throws QuantError.
//      Freezing with nothing observed throws too.
//    - SetRange / SetQParams install parameters directly (an OS+ search
//      result, a folded Δ, loaded values) and freeze.
//    - Apply / Encode before any parameters exist throw QuantError.
//    - Reset returns to calibrating with nothing observed.
//
// Ownership: owns its observer and parameters. Not thread-safe; const
// methods may run concurrently while nothing mutates the quantizer.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <optional>

#include "worker/engine/quant/integer_codes.h"
#include "worker/engine/quant/observer.h"
#include "worker/engine/quant/qparams.h"
#include "worker/engine/quant/quant_config.h"

namespace quantd::engine::quant {

class Quantizer {
 public:
  // Validates config (ConfigError naming the field).
  explicit Quantizer(const QuantConfig& config);

  Quantizer(Quantizer&&) noexcept = default;
  Quantizer& operator=(Quantizer&&) noexcept = default;

  const QuantConfig& config() const { return config_; }
  bool is_static() const { return config_.enabled && !config_.dynamic; }
  bool frozen() const { return frozen_; }
  bool has_qparams() const { return qparams_.has_value(); }

  // Calibration (static only, see the state rules).
  void Observe(const at::Tensor& x);
  void ObserveTokens(const at::Tensor& x, const at::Tensor& token_mask);
  void Freeze();
  void SetRange(const MinMaxRange& range);
  void SetQParams(const QParams& qparams);
  void Reset();

  // The static parameters; throws QuantError when there are none.
  const QParams& qparams() const;
  // The observer's current range (static only); throws before any batch.
  MinMaxRange ObservedRange() const;

  // Fake-quantizes x per the state rules; result has x's dtype.
  at::Tensor Apply(const at::Tensor& x) const;
  // Observe then Apply: one calibration forward of OS+.
  at::Tensor ObserveAndApply(const at::Tensor& x);
  // Integer codes of x for export (static parameters, or x's own for a
  // dynamic config); throws QuantError for a disabled config.
  IntegerCodes Encode(const at::Tensor& x) const;

 private:
  void RequireStatic(const char* function) const;
  void RecomputeFromObserver();

  QuantConfig config_;
  std::unique_ptr<Observer> observer_;  // Null unless static.
  std::optional<QParams> qparams_;
  bool frozen_ = false;
};

}  // namespace quantd::engine::quant
