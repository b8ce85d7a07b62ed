// at::Tensor entry points of the fused fake-quantization CUDA kernels. The
// quant library calls these for CUDA tensors (through
// quant/fused_kernels.h); they take tensors already viewed as rows, as
// quant::RowView produces, and return a new tensor of the same shape and
// dtype. Only built when QUANTD_WITH_CUDA.
//
// Thread-safety: stateless; work is enqueued on the current CUDA stream of
// the input's device.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "worker/engine/cuda/fake_quant_math.h"

namespace quantd::engine::cuda {

// A tensor the kernels cannot take (device, dtype, shape) or a failed
// launch; the message names the function and the problem.
class KernelError : public std::runtime_error {
 public:
  explicit KernelError(const std::string& message)
      : std::runtime_error(message) {}
};

// Whether the kernels load and store this dtype (float32, float16,
// bfloat16).
bool IsKernelDtype(at::ScalarType dtype);

// rows: [R, K] CUDA tensor of a kernel dtype. scale and zero_point: float32
// on the same device with 1 element (per-tensor) or R elements. Returns
// FakeQuantValue of every element with its row's parameters.
at::Tensor FakeQuantizeRowsCuda(const at::Tensor& rows, const at::Tensor& scale,
                                const at::Tensor& zero_point, int64_t qmin,
                                int64_t qmax);

struct DynamicRowsResult {
  at::Tensor output;      // Same shape and dtype as rows.
  at::Tensor scale;       // [R] float32.
  at::Tensor zero_point;  // [R] float32.
};

// Dynamic per-row quantization in one kernel: each row's min/max gives its
// (Δ, zp) by `spec`, then the row is fake-quantized.
DynamicRowsResult DynamicFakeQuantizeRowsCuda(const at::Tensor& rows,
                                              const RowQParamsSpec& spec);

}  // namespace quantd::engine::cuda
