// Fake quantization of float32 rows on the CPU in one pass: the same
// float32 operations as the LibTorch path of fake_quant.cc (and the CUDA
// kernels), element by element through cuda/fake_quant_math.h, without the
// four intermediate tensors that path allocates. Bit-identical to it.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>

namespace quantd::engine::quant::internal {

// x̂ = (clamp(round(x / Δ) + zp, qmin, qmax) − zp) · Δ for `x` with one
// (Δ, zp) for all of it or one per index of its first dimension (`scale`
// and `zero_point` of numel 1, or of numel x.size(0) shaped [R, 1, ...]).
// std::nullopt (the caller falls back to LibTorch ops) unless x, scale and
// zero_point are contiguous float32 CPU tensors of such shapes.
std::optional<at::Tensor> CpuFakeQuantize(const at::Tensor& x,
                                          const at::Tensor& scale,
                                          const at::Tensor& zero_point,
                                          int64_t qmin, int64_t qmax);

}  // namespace quantd::engine::quant::internal
