// The single dispatch point from the quantizer library to the fused CUDA
// fake-quantization kernels (worker/engine/cuda). CMake compiles exactly one
// implementation: fused_kernels_cuda.cc when QUANTD_WITH_CUDA, otherwise
// fused_kernels_none.cc, whose functions always decline. Callers try the
// fused path and fall back to LibTorch ops; nothing else in quant/ knows
// whether CUDA was built.
#pragma once

#include <ATen/ATen.h>

#include <optional>

#include "worker/engine/quant/qparams.h"

namespace quantd::engine::quant::internal {

// True when this build carries the fused kernels.
bool FusedKernelsAvailable();

// Fake-quantizes a [R, K] row view with one (Δ, zp) per row (or one for
// all) when the kernels take it: a CUDA tensor of float32, float16 or
// bfloat16 in a build with kernels. std::nullopt otherwise.
std::optional<at::Tensor> TryFusedFakeQuantizeRows(const at::Tensor& rows,
                                                   const QParams& qparams);

struct FusedDynamicResult {
  at::Tensor output;  // Same shape and dtype as the rows.
  QParams qparams;    // [R] parameters, as ComputeQParams would give.
};

// Dynamic per-row fake quantization (min/max, Δ/zp by `rule`, apply) in one
// kernel, under the same conditions as TryFusedFakeQuantizeRows.
std::optional<FusedDynamicResult> TryFusedDynamicFakeQuantizeRows(
    const at::Tensor& rows, const QParamsRule& rule);

}  // namespace quantd::engine::quant::internal
