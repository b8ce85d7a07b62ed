#include "worker/engine/cuda/fake_quant_cuda.h"

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/util/StringUtil.h>

#include "worker/engine/cuda/fake_quant_launch.h"

namespace quantd::engine::cuda {
namespace {

internal::ElementType ElementTypeOf(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat:
      return internal::ElementType::kFloat32;
    case at::kHalf:
      return internal::ElementType::kFloat16;
    case at::kBFloat16:
      return internal::ElementType::kBFloat16;
    default:
      throw KernelError(c10::str("fake quant kernel: unsupported dtype ", dtype,
                                 " (float32, float16, bfloat16 only)"));
  }
}

void CheckRows(const at::Tensor& rows, const char* function) {
  if (!rows.is_cuda() || rows.dim() != 2) {
    throw KernelError(c10::str(function,
                               ": rows must be a 2-D CUDA tensor, got shape ",
                               rows.sizes(), " on ", rows.device()));
  }
}

at::Tensor CheckedParams(const at::Tensor& params, const at::Tensor& rows,
                         const char* name) {
  const int64_t count = params.numel();
  if (count != 1 && count != rows.size(0)) {
    throw KernelError(c10::str("FakeQuantizeRowsCuda: ", name, " has ", count,
                               " elements for ", rows.size(0), " rows"));
  }
  return params.to(rows.device(), at::kFloat).contiguous().reshape({-1});
}

void ThrowIfFailed(cudaError_t status, const char* function) {
  if (status != cudaSuccess) {
    throw KernelError(c10::str(
        function, ": kernel launch failed: ", cudaGetErrorString(status)));
  }
}

}  // namespace

bool IsKernelDtype(at::ScalarType dtype) {
  return dtype == at::kFloat || dtype == at::kHalf || dtype == at::kBFloat16;
}

at::Tensor FakeQuantizeRowsCuda(const at::Tensor& rows, const at::Tensor& scale,
                                const at::Tensor& zero_point, int64_t qmin,
                                int64_t qmax) {
  CheckRows(rows, "FakeQuantizeRowsCuda");
  const internal::ElementType type = ElementTypeOf(rows.scalar_type());
  const c10::cuda::CUDAGuard guard(rows.device());
  const at::Tensor input = rows.contiguous();
  const at::Tensor scales = CheckedParams(scale, rows, "scale");
  const at::Tensor zero_points = CheckedParams(zero_point, rows, "zero_point");
  at::Tensor output = at::empty_like(input);
  const int64_t row_length = input.size(1);
  ThrowIfFailed(
      internal::LaunchFakeQuantizeStatic(
          type, input.const_data_ptr(), output.mutable_data_ptr(),
          input.numel(), row_length > 0 ? row_length : 1,
          scales.const_data_ptr<float>(), zero_points.const_data_ptr<float>(),
          scales.numel(), static_cast<float>(qmin), static_cast<float>(qmax),
          c10::cuda::getCurrentCUDAStream().stream()),
      "FakeQuantizeRowsCuda");
  return output;
}

DynamicRowsResult DynamicFakeQuantizeRowsCuda(const at::Tensor& rows,
                                              const RowQParamsSpec& spec) {
  CheckRows(rows, "DynamicFakeQuantizeRowsCuda");
  const internal::ElementType type = ElementTypeOf(rows.scalar_type());
  const c10::cuda::CUDAGuard guard(rows.device());
  const at::Tensor input = rows.contiguous();
  const auto float_options = input.options().dtype(at::kFloat);
  DynamicRowsResult result{at::empty_like(input),
                           at::empty({input.size(0)}, float_options),
                           at::empty({input.size(0)}, float_options)};
  if (input.size(1) == 0) {
    throw KernelError(
        "DynamicFakeQuantizeRowsCuda: rows of length 0 have no range");
  }
  ThrowIfFailed(internal::LaunchFakeQuantizeDynamicRows(
                    type, input.const_data_ptr(),
                    result.output.mutable_data_ptr(), input.size(0),
                    input.size(1), spec, result.scale.mutable_data_ptr<float>(),
                    result.zero_point.mutable_data_ptr<float>(),
                    c10::cuda::getCurrentCUDAStream().stream()),
                "DynamicFakeQuantizeRowsCuda");
  return result;
}

}  // namespace quantd::engine::cuda
