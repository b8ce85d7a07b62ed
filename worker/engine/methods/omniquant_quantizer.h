// OmniQuant's quantizer in differentiable form (docs/ALGORITHMS.md §1.4,
// §5.2): the UniformAffineQuantizer on the rows of a granularity view, with
// gradients reaching the step Δ (and through it the range) while the zero
// point is rounded without one and the codes go through a straight-through
// estimator; the dynamic activation form; and Learnable Weight Clipping
// (LWC), per-row (or per-group) factors σ(a), σ(c) on a weight's max and
// min.
//
// Rounding is injectable (Rounding) so a gradient check can freeze the
// rounding decisions and compare the autograd gradients with finite
// differences of the same formulas; production uses the default.
//
// Values match quant::FakeQuantize / quant::ComputeQParams (kOmni* rules)
// bit for bit in float32, so a block trained here and one rebuilt from the
// saved QParams compute the same thing.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "worker/engine/quant/qparams.h"
#include "worker/engine/quant/quant_config.h"

namespace quantd::engine::methods {

// How the differentiable quantizers round. The default is OmniQuant's:
// the code clamp(round(v) + zp, qmin, qmax) with a straight-through
// gradient for the rounding (and clamp's gradient, which passes inside the
// closed grid), the zero point round(v) with no gradient. Not thread-safe
// when a subclass keeps state.
class Rounding {
 public:
  virtual ~Rounding() = default;
  // `scaled` is x / Δ; `zero_point` broadcasts against it.
  virtual at::Tensor Code(const at::Tensor& scaled,
                          const at::Tensor& zero_point, int64_t qmin,
                          int64_t qmax);
  virtual at::Tensor ZeroPoint(const at::Tensor& v);
};

// OmniQuant fake quantization of `rows` [R, L], one (Δ, zp) per row from
// the range [lo, hi] ([R] each, differentiable): Δ = clamp((hi − lo) /
// (qmax − qmin), 1e-5, 1e4), zp = round(clamp(−lo/Δ, ±1e4)) for the
// asymmetric rule; Δ = clamp(max(|lo|, |hi|) / L, 1e-5, 1e4), zp = L for
// the symmetric one. `config` must have include_zero == false.
at::Tensor OmniFakeQuantizeRows(const at::Tensor& rows, const at::Tensor& lo,
                                const at::Tensor& hi,
                                const quant::QuantConfig& config,
                                Rounding& rounding);

// Dynamic form: each row of RowView(x, config.granularity) quantized with
// its own min and max (gradients flow through them, as OmniQuant's
// per-token quantizer lets them). A static per-tensor config is treated as
// dynamic per-tensor (the training proxy of a calibrated quantizer).
// Identity when the config is disabled.
at::Tensor OmniFakeQuantizeDynamic(const at::Tensor& x,
                                   const quant::QuantConfig& config,
                                   Rounding& rounding);

// LWC of one Linear weight. `learnable` false gives plain MinMax ranges
// (OmniQuant without --lwc) and no parameters.
//
// Owns its two parameter tensors ([rows] of the weight's granularity view,
// the weight's dtype and device, requires_grad). Not thread-safe.
class LearnableClipping {
 public:
  // OmniQuant initialises both logits to 4.0 (σ(4) ≈ 0.982).
  static constexpr double kDefaultInit = 4.0;

  LearnableClipping(const at::Tensor& weight, const quant::QuantConfig& config,
                    bool learnable, double init = kDefaultInit);

  const quant::QuantConfig& config() const { return config_; }
  // σ(upper)·max and σ(lower)·min of each row, differentiable.
  quant::MinMaxRange ClippedRange(const at::Tensor& weight) const;
  // The fake-quantized weight, differentiable in the weight and the logits.
  at::Tensor Apply(const at::Tensor& weight, Rounding& rounding) const;
  // The final (Δ, zp) of `weight` (no gradient), as quant::ComputeQParams
  // computes them from the clipped range; 0-dim for per-tensor.
  quant::QParams QParams(const at::Tensor& weight) const;

  // {upper, lower}, or nothing when not learnable.
  std::vector<at::Tensor> parameters() const;
  const at::Tensor& upper() const { return upper_; }
  const at::Tensor& lower() const { return lower_; }

 private:
  quant::QuantConfig config_;
  at::Tensor upper_;  // a: the max factor's logit.
  at::Tensor lower_;  // c: the min factor's logit.
};

}  // namespace quantd::engine::methods
