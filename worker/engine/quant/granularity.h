// Granularity as a row view: every granularity shares one (scale, zero
// point) per row of a 2-D view of the tensor, which is how OS+ reshapes for
// per-token and per-group quantization (docs/ALGORITHMS.md §1.1). Also the
// per-row min/max reduction and padding-token removal used by observers.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "worker/engine/quant/min_max_range.h"
#include "worker/engine/quant/quant_config.h"

namespace quantd::engine::quant {

// Views x as a [rows, row_length] matrix whose rows each share one pair:
//   per_tensor   [1, numel]
//   per_channel  [size(0), numel / size(0)]  (a weight's output rows)
//   per_token    [numel / C, C] with C = size(-1)
//   per_group    [numel / G, G]; G must divide size(-1) so that no group
//                straddles two tokens or two output rows.
// A view when x is contiguous, a copy otherwise. Throws QuantError when x
// cannot be viewed so (0-dim tensor for a per-row granularity, G not
// dividing the last dimension).
at::Tensor RowView(const at::Tensor& x, Granularity granularity,
                   int64_t group_size);

// Number of rows RowView would produce.
int64_t RowCount(const at::Tensor& x, Granularity granularity,
                 int64_t group_size);

// Min and max of each row, as float32 on x's device: 0-dim for per_tensor,
// [rows] otherwise. NaN propagates. Throws QuantError on an empty tensor.
MinMaxRange RowMinMax(const at::Tensor& x, Granularity granularity,
                      int64_t group_size);

// Drops padding tokens: x is [..., C]; token_mask is bool with x's leading
// shape (or any shape of numel / C elements), true for real tokens.
// Returns [kept, C]. Throws QuantError on a shape or dtype mismatch.
at::Tensor SelectTokens(const at::Tensor& x, const at::Tensor& token_mask);

}  // namespace quantd::engine::quant
