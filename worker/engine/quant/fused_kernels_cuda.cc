// Build with CUDA kernels: CUDA tensors of a kernel dtype go to
// worker/engine/cuda.
#include "worker/engine/cuda/fake_quant_cuda.h"
#include "worker/engine/cuda/fake_quant_math.h"
#include "worker/engine/quant/cuda_row_spec.h"
#include "worker/engine/quant/fused_kernels.h"

namespace quantd::engine::quant::internal {
namespace {

bool KernelTakes(const at::Tensor& rows) {
  return rows.is_cuda() && rows.dim() == 2 &&
         cuda::IsKernelDtype(rows.scalar_type());
}

cuda::RowRangeMode ModeOf(RangeMode mode) {
  switch (mode) {
    case RangeMode::kAsymmetric:
      return cuda::RowRangeMode::kAsymmetric;
    case RangeMode::kSymmetric:
      return cuda::RowRangeMode::kSymmetric;
    case RangeMode::kOmniAsymmetric:
      return cuda::RowRangeMode::kOmniAsymmetric;
    case RangeMode::kOmniSymmetric:
      return cuda::RowRangeMode::kOmniSymmetric;
  }
  return cuda::RowRangeMode::kAsymmetric;
}

}  // namespace

cuda::RowQParamsSpec RowSpecOf(const QParamsRule& rule) {
  cuda::RowQParamsSpec spec;
  spec.mode = ModeOf(rule.mode);
  spec.qmin = static_cast<float>(rule.qmin);
  spec.qmax = static_cast<float>(rule.qmax);
  spec.eps = rule.eps;
  spec.scale_min = kOmniScaleMin;
  spec.scale_max = kOmniScaleMax;
  spec.zero_point_limit = kOmniZeroPointLimit;
  return spec;
}

bool FusedKernelsAvailable() { return true; }

std::optional<at::Tensor> TryFusedFakeQuantizeRows(const at::Tensor& rows,
                                                   const QParams& qparams) {
  if (!KernelTakes(rows)) return std::nullopt;
  return cuda::FakeQuantizeRowsCuda(rows, qparams.scale, qparams.zero_point,
                                    qparams.qmin, qparams.qmax);
}

std::optional<FusedDynamicResult> TryFusedDynamicFakeQuantizeRows(
    const at::Tensor& rows, const QParamsRule& rule) {
  if (!KernelTakes(rows) || rows.size(1) == 0) return std::nullopt;
  cuda::DynamicRowsResult result =
      cuda::DynamicFakeQuantizeRowsCuda(rows, RowSpecOf(rule));
  return FusedDynamicResult{
      result.output,
      QParams{result.scale, result.zero_point, rule.qmin, rule.qmax}};
}

}  // namespace quantd::engine::quant::internal
