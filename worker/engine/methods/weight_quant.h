// Weight quantization of a Linear layer: the fake-quantized weight and its
// (Δ, zp), from a MinMax quantizer that sees the weight once (OS+'s
// FixedQuantize), plus the exact row rescaling OS+ uses to fold a scale into
// an already-quantized producer (docs/ALGORITHMS.md §2.4 e).
#pragma once

#include <ATen/ATen.h>

#include "worker/engine/quant/qparams.h"
#include "worker/engine/quant/quant_config.h"

namespace quantd::engine::methods {

struct QuantizedWeight {
  at::Tensor weight;       // Fake-quantized, float32, [out, in].
  quant::QParams qparams;  // Per the config's granularity.
};

// Fake-quantizes `weight` [out, in] with `config` (which must be static).
// A disabled config returns the weight unchanged and empty parameters.
QuantizedWeight QuantizeWeight(const at::Tensor& weight,
                               const quant::QuantConfig& config);

// Divides row j of a quantized weight by scale_j (> 0) without leaving the
// integer grid: the codes stay, the step of every (Δ, zp) pair of row j
// becomes Δ / scale_j, and the weight is dequantized again. Needs
// per-channel or per-group parameters (MethodError otherwise).
QuantizedWeight DivideQuantizedRows(const at::Tensor& weight,
                                    const quant::QParams& qparams,
                                    const quant::QuantConfig& config,
                                    const at::Tensor& scale);

}  // namespace quantd::engine::methods
