// The attention core every architecture shares: head splitting and merging,
// grouped-query K/V repetition, and softmax(scale·QKᵀ + mask)·V, either
// fused (at::scaled_dot_product_attention) or explicit when a method needs
// to see the probabilities.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "worker/engine/model/activation_hook.h"
#include "worker/engine/model/forward_context.h"
#include "worker/engine/model/layers.h"

namespace quantd::engine::model {

// [B, T, H·D] -> [B, H, T, D].
at::Tensor SplitHeads(const at::Tensor& x, int64_t num_heads);
// SplitHeads of a q/k/v projection of x [B, T, C], the product in the
// context's matmul dtype.
at::Tensor ProjectHeads(const Linear& projection, const at::Tensor& x,
                        int64_t num_heads, const ForwardContext& context);
// [B, H, T, D] -> [B, T, H·D] (contiguous).
at::Tensor MergeHeads(const at::Tensor& x);
// [B, Hkv, T, D] -> [B, Hkv·repeats, T, D], each K/V head repeated for the
// consecutive query heads that share it (HF repeat_kv).
at::Tensor RepeatKv(const at::Tensor& x, int64_t repeats);

// The attention context, merged to [B, T, H·D], from q [B, H, T, D] and
// k, v [B, Hkv, T, D] (H a multiple of Hkv). Masking comes from `context`.
// `probs_hook`, when non-null and set, is applied to the probabilities
// [B, H, T, T] before they weight V (forcing the explicit path).
at::Tensor AttentionContext(const at::Tensor& q, const at::Tensor& k,
                            const at::Tensor& v, const ForwardContext& context,
                            double scale, const ActivationHook* probs_hook);

}  // namespace quantd::engine::model
