// Quantization parameters: the scale Δ and integer zero point of a range,
// computed exactly as docs/ALGORITHMS.md §1.1 (OS/OS+) and §1.4 (OmniQuant)
// describe, plus the rule object that captures which formula applies.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <limits>

#include "worker/engine/quant/min_max_range.h"
#include "worker/engine/quant/quant_config.h"

namespace quantd::engine::quant {

// Lower bounds on Δ per convention, and OmniQuant's clamps.
inline constexpr float kOsPlusEps = std::numeric_limits<float>::epsilon();
inline constexpr float kOsEps = 1e-8f;
inline constexpr float kOmniScaleMin = 1e-5f;
inline constexpr float kOmniScaleMax = 1e4f;
inline constexpr float kOmniZeroPointLimit = 1e4f;

// Which formula turns (min, max) into (Δ, zp); m⁻ = min(min, 0) and
// m⁺ = max(max, 0) for the OS/OS+ modes.
enum class RangeMode {
  // Δ = max((m⁺ - m⁻) / (qmax - qmin), eps);
  // zp = clamp(qmin - round(m⁻ / Δ), qmin, qmax).
  kAsymmetric,
  // Δ = max(max(-m⁻, m⁺) / ((qmax - qmin) / 2), eps); zp = 0.
  kSymmetric,
  // OmniQuant, range not widened: Δ = clamp((max - min) / (qmax - qmin),
  // 1e-5, 1e4); zp = round(clamp(-min / Δ, -1e4, 1e4)), not clamped to the
  // grid.
  kOmniAsymmetric,
  // OmniQuant --symmetric: L = 2^(b-1) - 1; Δ = clamp(max(|min|, |max|) / L,
  // 1e-5, 1e4); zp = L on the grid [0, 2^b - 1].
  kOmniSymmetric,
};

struct QParamsRule {
  RangeMode mode = RangeMode::kAsymmetric;
  int64_t qmin = 0;
  int64_t qmax = 255;
  // Lower bound on Δ for the OS/OS+ modes.
  float eps = kOsPlusEps;
};

// The rule of a config: the symmetric/include_zero fields pick the mode,
// GridOf the grid, and the grid field the eps (kOsPlusNarrow: float32
// machine eps; kOsFull: 1e-8).
QParamsRule RuleOf(const QuantConfig& config);

// Δ and zp for every row of a granularity view (see granularity.h).
struct QParams {
  // float32, 0-dim (per-tensor) or [rows]; always > 0 for finite input.
  at::Tensor scale;
  // float32 holding integers, same shape as scale.
  at::Tensor zero_point;
  int64_t qmin = 0;
  int64_t qmax = 0;
};

// Computes (Δ, zp) from a range with the rule's formula. The arithmetic
// runs in float32 on the CPU (ranges are tiny) and the result is moved to
// the range's device, so every device gets bit-identical parameters; the
// fused CUDA kernels reproduce the same operations. Throws QuantError when
// min and max differ in shape.
QParams ComputeQParams(const MinMaxRange& range, const QParamsRule& rule);
QParams ComputeQParams(const MinMaxRange& range, const QuantConfig& config);

}  // namespace quantd::engine::quant
