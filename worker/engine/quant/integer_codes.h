// Integer codes for export: the clamped integers q of fake quantization,
// stored as int8 (signed grids) or uint8 (unsigned grids), with the scale
// and zero point needed to dequantize them as (q - zp) · Δ. Dequantize of
// QuantizeToInt equals FakeQuantize bit for bit.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "worker/engine/quant/qparams.h"
#include "worker/engine/quant/quant_config.h"

namespace quantd::engine::quant {

struct IntegerCodes {
  // Same shape as the quantized tensor; int8 when qmin < 0, else uint8.
  at::Tensor codes;
  QParams qparams;
  Granularity granularity = Granularity::kPerTensor;
  int64_t group_size = 0;
};

// int8 or uint8 for a grid; throws QuantError when the grid fits neither.
at::ScalarType CodeDtype(int64_t qmin, int64_t qmax);

// q = clamp(round(x / Δ) + zp, qmin, qmax) per row of the granularity view.
// Throws QuantError like FakeQuantize, or when the grid exceeds 8 bits.
IntegerCodes QuantizeToInt(const at::Tensor& x, const QParams& qparams,
                           Granularity granularity, int64_t group_size);

// (q - zp) · Δ computed in float32, returned as `dtype`.
at::Tensor Dequantize(const IntegerCodes& codes,
                      at::ScalarType dtype = at::kFloat);

}  // namespace quantd::engine::quant
