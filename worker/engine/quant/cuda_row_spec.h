// Translation of a QParamsRule into the CUDA kernels' RowQParamsSpec. Only
// part of builds with QUANTD_WITH_CUDA (implemented in
// fused_kernels_cuda.cc); used by that dispatcher and by the host-side
// parity test of the kernels' arithmetic.
#pragma once

#include "worker/engine/cuda/fake_quant_math.h"
#include "worker/engine/quant/qparams.h"

namespace quantd::engine::quant::internal {

cuda::RowQParamsSpec RowSpecOf(const QParamsRule& rule);

}  // namespace quantd::engine::quant::internal
