// LinearCodes: the integer form of one quantized Linear layer, recovered
// exactly from the fake-quantized weight the model computes with and the
// layer's QParams: codes q, scales Δ and integer zero points zp shaped per
// the weight granularity, with w = (q − zp) · Δ. Every integer export
// (packed, compressed-tensors, GGUF) starts here, so the codes each file
// holds are the ones the method chose.
//
// Plain values and functions; thread-safe.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "worker/engine/export/packed_exporter.h"

namespace quantd::engine::exporting {

struct LinearCodes {
  at::Tensor codes;        // int8 (signed grid) or uint8 (unsigned), [out, in]
  at::Tensor scales;       // float32, per_tensor [1], per_channel [out],
                           // per_group [out, in / G]
  at::Tensor zero_points;  // int32, same shape as scales
  std::vector<int64_t> param_shape;
  int64_t qmin = 0;
  int64_t qmax = 0;
  bool bit_exact = false;  // Dequantized codes equal the weight exactly.
  double max_abs_error = 0.0;
};

// Throws ExportError naming `where` (not 2-D, a group size that does not
// divide the input dimension, non-integer zero points) or QuantError.
LinearCodes RecoverLinearCodes(const QuantizedLinear& linear,
                               const at::Tensor& weight,
                               const std::string& where);

// The (scale, zero point) shape of a weight [out, in] under `config`.
std::vector<int64_t> WeightParamShape(const quant::QuantConfig& config,
                                      const at::Tensor& weight,
                                      const std::string& where);

// Zero points (float32 holding integers) as int32 of `shape`; throws
// ExportError naming `where` when they are not integers.
at::Tensor IntegerZeroPoints(const at::Tensor& zero_point,
                             const std::vector<int64_t>& shape,
                             const std::string& where);

}  // namespace quantd::engine::exporting
