// Fake quantization x̂ = (clamp(round(x / Δ) + zp, qmin, qmax) - zp) · Δ
// (docs/ALGORITHMS.md §1.1) with round-half-to-even, in three forms:
// elementwise with broadcast parameters, per granularity row with given
// (static) parameters, and dynamic (parameters from the input's own
// per-row min/max). Plus the straight-through-estimator form for learned
// scales (OmniQuant LWC, LSQ).
//
// Arithmetic is float32 whatever x's dtype; results come back in x's dtype.
// CUDA tensors of float32/float16/bfloat16 run the fused kernels when the
// build has them, bit-identical to the CPU result.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "worker/engine/quant/qparams.h"
#include "worker/engine/quant/quant_config.h"

namespace quantd::engine::quant {

// Elementwise; scale and zero_point (float32) broadcast against x. Throws
// QuantError when x is not a floating tensor or qmin > qmax.
at::Tensor FakeQuantize(const at::Tensor& x, const at::Tensor& scale,
                        const at::Tensor& zero_point, int64_t qmin,
                        int64_t qmax);

// One (Δ, zp) per row of RowView(x, granularity, group_size): qparams hold
// 1 element for per_tensor and RowCount elements otherwise (QuantError if
// not).
at::Tensor FakeQuantize(const at::Tensor& x, const QParams& qparams,
                        Granularity granularity, int64_t group_size);

// Per-row parameters of x itself for config's granularity and rule: the
// min/max of each token (per_token, view [-1, C]), group (per_group, view
// [-1, G]), output row (per_channel) or of all of x (per_tensor).
QParams DynamicQParams(const at::Tensor& x, const QuantConfig& config);

// Dynamic fake quantization with DynamicQParams, whatever config.dynamic
// says; identity when config.enabled is false.
at::Tensor FakeQuantizeDynamic(const at::Tensor& x, const QuantConfig& config);

// Differentiable form: round(v) is replaced by v + (round(v) - v).detach(),
// so gradients reach x (straight through inside [qmin, qmax], zero where
// clamped) and scale; zero_point receives a gradient only if it requires
// one (OmniQuant detaches it). The forward value equals FakeQuantize
// bit for bit.
at::Tensor FakeQuantizeSte(const at::Tensor& x, const at::Tensor& scale,
                           const at::Tensor& zero_point, int64_t qmin,
                           int64_t qmax);

}  // namespace quantd::engine::quant
