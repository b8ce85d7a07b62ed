// The scalar arithmetic of uniform affine fake quantization, shared by the
// CUDA kernels and by host code: (Δ, zp) of one row from its min/max, and
// x̂ = (clamp(round(x / Δ) + zp, qmin, qmax) - zp) · Δ. Plain C++ so the
// host compiler can check it against the LibTorch path (quant/qparams.cc,
// quant/fake_quant.cc), whose float32 operations it mirrors one for one.
//
// Every operation is a single IEEE float32 operation rounded to nearest:
// device code uses the __f*_rn intrinsics so nvcc can neither contract them
// into FMAs nor relax them under fast-math flags; rounding is half-to-even
// (rintf / std::nearbyint), never std::round. min/max/clamp propagate NaN
// like their ATen counterparts.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define QUANTD_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define QUANTD_HOST_DEVICE inline
#endif

namespace quantd::engine::cuda {

// Mirrors quant::RangeMode (see quant/qparams.h for the formulas).
enum class RowRangeMode : int32_t {
  kAsymmetric = 0,
  kSymmetric = 1,
  kOmniAsymmetric = 2,
  kOmniSymmetric = 3,
};

// Everything a kernel needs to turn a row's min/max into (Δ, zp).
struct RowQParamsSpec {
  RowRangeMode mode = RowRangeMode::kAsymmetric;
  float qmin = 0.0f;
  float qmax = 255.0f;
  float eps = 0.0f;        // OS/OS+ lower bound on Δ.
  float scale_min = 0.0f;  // OmniQuant clamp of Δ.
  float scale_max = 0.0f;
  float zero_point_limit = 0.0f;  // OmniQuant clamp of -min / Δ.
};

struct RowQParams {
  float scale;
  float zero_point;
};

QUANTD_HOST_DEVICE bool IsNan(float v) { return v != v; }

QUANTD_HOST_DEVICE float NanMin(float a, float b) {
  return (IsNan(a) || a < b) ? a : b;
}

QUANTD_HOST_DEVICE float NanMax(float a, float b) {
  return (IsNan(a) || a > b) ? a : b;
}

// at::clamp semantics: NaN passes through.
QUANTD_HOST_DEVICE float Clamp(float v, float lo, float hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

QUANTD_HOST_DEVICE float RoundHalfToEven(float v) {
#if defined(__CUDA_ARCH__)
  return rintf(v);
#else
  return std::nearbyint(v);
#endif
}

QUANTD_HOST_DEVICE float Abs(float v) {
#if defined(__CUDA_ARCH__)
  return fabsf(v);
#else
  return std::fabs(v);
#endif
}

#if defined(__CUDA_ARCH__)
QUANTD_HOST_DEVICE float Add(float a, float b) { return __fadd_rn(a, b); }
QUANTD_HOST_DEVICE float Sub(float a, float b) { return __fsub_rn(a, b); }
QUANTD_HOST_DEVICE float Mul(float a, float b) { return __fmul_rn(a, b); }
QUANTD_HOST_DEVICE float Div(float a, float b) { return __fdiv_rn(a, b); }
#else
QUANTD_HOST_DEVICE float Add(float a, float b) { return a + b; }
QUANTD_HOST_DEVICE float Sub(float a, float b) { return a - b; }
QUANTD_HOST_DEVICE float Mul(float a, float b) { return a * b; }
QUANTD_HOST_DEVICE float Div(float a, float b) { return a / b; }
#endif

QUANTD_HOST_DEVICE RowQParams OsRowQParams(float min, float max,
                                           const RowQParamsSpec& spec) {
  const float lo = NanMin(min, 0.0f);
  const float hi = NanMax(max, 0.0f);
  if (spec.mode == RowRangeMode::kSymmetric) {
    const float absmax = NanMax(-lo, hi);
    const float half_levels = Div(Sub(spec.qmax, spec.qmin), 2.0f);
    return {NanMax(Div(absmax, half_levels), spec.eps), 0.0f};
  }
  const float scale =
      NanMax(Div(Sub(hi, lo), Sub(spec.qmax, spec.qmin)), spec.eps);
  const float zero_point = Clamp(
      Sub(spec.qmin, RoundHalfToEven(Div(lo, scale))), spec.qmin, spec.qmax);
  return {scale, zero_point};
}

QUANTD_HOST_DEVICE RowQParams OmniRowQParams(float min, float max,
                                             const RowQParamsSpec& spec) {
  if (spec.mode == RowRangeMode::kOmniSymmetric) {
    const float level = Div(Sub(spec.qmax, 1.0f), 2.0f);
    const float absmax = NanMax(Abs(max), Abs(min));
    return {Clamp(Div(absmax, level), spec.scale_min, spec.scale_max), level};
  }
  const float scale = Clamp(Div(Sub(max, min), Sub(spec.qmax, spec.qmin)),
                            spec.scale_min, spec.scale_max);
  const float zero_point = RoundHalfToEven(
      Clamp(Div(-min, scale), -spec.zero_point_limit, spec.zero_point_limit));
  return {scale, zero_point};
}

QUANTD_HOST_DEVICE RowQParams ComputeRowQParams(float min, float max,
                                                const RowQParamsSpec& spec) {
  if (spec.mode == RowRangeMode::kOmniAsymmetric ||
      spec.mode == RowRangeMode::kOmniSymmetric) {
    return OmniRowQParams(min, max, spec);
  }
  return OsRowQParams(min, max, spec);
}

QUANTD_HOST_DEVICE float FakeQuantValue(float x, float scale, float zero_point,
                                        float qmin, float qmax) {
  const float code =
      Clamp(Add(RoundHalfToEven(Div(x, scale)), zero_point), qmin, qmax);
  return Mul(Sub(code, zero_point), scale);
}

}  // namespace quantd::engine::cuda
