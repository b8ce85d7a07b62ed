// ForwardContext: what every block of a model needs for one batch besides
// the hidden states — padding and causal masking, position ids and the
// rotary tables — built once per batch by Model::MakeContext and shared by
// all blocks, so a block-wise pipeline never recomputes it.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace quantd::engine::model {

struct ForwardContext {
  int64_t batch_size = 0;
  int64_t seq_len = 0;
  // [B, T] bool, true for real tokens; undefined when no token is padding.
  at::Tensor token_mask;
  // Whether a query attends only to itself and earlier keys (decoders).
  bool causal = false;
  // Additive attention mask broadcastable to [B, H, T, T]: 0 where a query
  // may attend a key, the lowest float where it may not. Combines causality
  // and padding. Undefined when there is no padding; attention then uses
  // `causal` alone (which lets the fused kernel skip the mask).
  at::Tensor attention_bias;
  // [B, T] int64 position ids as the architecture counts them (OPT's offset
  // of 2 is applied by its embedding, not here).
  at::Tensor positions;
  // Rotary tables for `positions`, [B, T, head_dim]; only for RoPE models.
  at::Tensor rope_cos;
  at::Tensor rope_sin;
  // Use at::scaled_dot_product_attention (fused) rather than the explicit
  // softmax(QKᵀ)V. The explicit path is always taken while a hook on the
  // attention probabilities is installed.
  bool fused_attention = true;
  // The dtype of the Linear products (ModelOptions::matmul_dtype).
  at::ScalarType matmul_dtype = at::kFloat;
};

// Fills batch_size, seq_len, token_mask, causal and attention_bias from
// token ids [B, T] and an optional [B, T] mask (nonzero = real token; an
// all-ones mask is treated as no mask). `ids` fixes the device. A positive
// `sliding_window` (Mistral) also hides keys `sliding_window` or more
// positions behind the query, as HF does.
ForwardContext MakeMaskContext(const at::Tensor& ids,
                               const at::Tensor& token_mask, bool causal,
                               int64_t sliding_window = 0);

}  // namespace quantd::engine::model
