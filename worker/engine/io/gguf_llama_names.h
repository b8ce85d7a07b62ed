// The llama-architecture GGUF tensor names and their HF transformers
// counterparts (token_embd.weight <-> model.embed_tokens.weight,
// blk.N.attn_q.weight <-> model.layers.N.self_attn.q_proj.weight, ...),
// and the undoing of the row permutation llama.cpp's converter applies to
// q_proj and k_proj for its rotary layout, so loaded tensors equal the HF
// checkpoint exactly.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace quantd::engine::io {

// Which rotary row permutation a tensor carries in GGUF.
enum class RowPermutation {
  kNone,
  kQuery,  // q_proj: permuted per attention head (num_heads).
  kKey,    // k_proj: permuted per key/value head (num_kv_heads).
};

struct HfTensorName {
  std::string name;
  RowPermutation permutation = RowPermutation::kNone;
};

// The HF name of a llama GGUF tensor, or nullopt for a tensor without an
// HF counterpart (e.g. rope_freqs.weight).
std::optional<HfTensorName> LlamaHfName(std::string_view gguf_name);

// Inverse of convert_hf_to_gguf.py's permute(): the rows of each of
// `head_count` heads are stored interleaved as (half, 2) and become
// (2, half) again. Returns a new contiguous tensor. The caller checks that
// size(0) is a multiple of 2 * head_count.
at::Tensor UndoRotaryPermutation(const at::Tensor& weight, int64_t head_count);

// convert_hf_to_gguf.py's permute() itself (the inverse of the above), for
// writing GGUF: rows (2, half) of each head become (half, 2). Any tensor
// whose rows follow the weight's (codes, per-row or per-group scales).
at::Tensor ApplyRotaryPermutation(const at::Tensor& rows, int64_t head_count);

}  // namespace quantd::engine::io
