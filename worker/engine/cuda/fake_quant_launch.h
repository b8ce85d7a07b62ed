// Launchers of the fused fake-quantization kernels in
// fake_quant_kernel.cu. Raw device pointers and no LibTorch types, so nvcc
// never parses ATen; fake_quant_cuda.h wraps these for at::Tensor.
// Each launcher only enqueues work on `stream` and returns the launch
// status; it never synchronizes.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "worker/engine/cuda/fake_quant_math.h"

namespace quantd::engine::cuda::internal {

// Element types the kernels load and store; arithmetic is always float32.
enum class ElementType { kFloat32, kFloat16, kBFloat16 };

// Static parameters: out[i] = FakeQuantValue(x[i], scale[p], zero_point[p])
// with p = i / row_length, or p = 0 when param_count == 1. x and out hold
// numel contiguous elements; scale and zero_point hold param_count floats.
cudaError_t LaunchFakeQuantizeStatic(ElementType type, const void* x, void* out,
                                     int64_t numel, int64_t row_length,
                                     const float* scale,
                                     const float* zero_point,
                                     int64_t param_count, float qmin,
                                     float qmax, cudaStream_t stream);

// Dynamic parameters, fused: one thread block per row reduces the row's
// min/max, derives (Δ, zp) with ComputeRowQParams and fake-quantizes the
// row. x and out are [rows, row_length] contiguous. scale_out and
// zero_point_out (rows floats each) receive the parameters when non-null.
cudaError_t LaunchFakeQuantizeDynamicRows(
    ElementType type, const void* x, void* out, int64_t rows,
    int64_t row_length, const RowQParamsSpec& spec, float* scale_out,
    float* zero_point_out, cudaStream_t stream);

}  // namespace quantd::engine::cuda::internal
