// Rotary position embedding, HF convention (rotate_half: the first and the
// second half of each head are the pair), default rope type only.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <utility>

namespace quantd::engine::model {

// cos and sin tables for `positions` [B, T] (int64): each [B, T, head_dim].
// Computed in float32 with the same operations as HF's
// LlamaRotaryEmbedding, so positions up to thousands round the same way.
std::pair<at::Tensor, at::Tensor> RotaryTables(const at::Tensor& positions,
                                               int64_t head_dim, double theta);

// x [B, H, T, D] rotated by the tables (broadcast over heads).
at::Tensor ApplyRotary(const at::Tensor& x, const at::Tensor& cos,
                       const at::Tensor& sin);

}  // namespace quantd::engine::model
