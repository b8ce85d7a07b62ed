// Build without CUDA kernels: every fused path declines.
#include "worker/engine/quant/fused_kernels.h"

namespace quantd::engine::quant::internal {

bool FusedKernelsAvailable() { return false; }

std::optional<at::Tensor> TryFusedFakeQuantizeRows(const at::Tensor& /*rows*/,
                                                   const QParams& /*qparams*/) {
  return std::nullopt;
}

std::optional<FusedDynamicResult> TryFusedDynamicFakeQuantizeRows(
    const at::Tensor& /*rows*/, const QParamsRule& /*rule*/) {
  return std::nullopt;
}

}  // namespace quantd::engine::quant::internal
