#include "worker/engine/io/gguf_llama_names.h"

#include <array>
#include <charconv>
#include <utility>

namespace quantd::engine::io {
namespace {

struct BlockName {
  std::string_view gguf;  // After "blk.N.", before ".weight"/".bias".
  std::string_view hf;    // After "model.layers.N.".
  RowPermutation permutation;
};

constexpr std::array<BlockName, 9> kBlockNames = {{
    {"attn_q", "self_attn.q_proj", RowPermutation::kQuery},
    {"attn_k", "self_attn.k_proj", RowPermutation::kKey},
    {"attn_v", "self_attn.v_proj", RowPermutation::kNone},
    {"attn_output", "self_attn.o_proj", RowPermutation::kNone},
    {"ffn_gate", "mlp.gate_proj", RowPermutation::kNone},
    {"ffn_up", "mlp.up_proj", RowPermutation::kNone},
    {"ffn_down", "mlp.down_proj", RowPermutation::kNone},
    {"attn_norm", "input_layernorm", RowPermutation::kNone},
    {"ffn_norm", "post_attention_layernorm", RowPermutation::kNone},
}};

constexpr std::array<std::pair<std::string_view, std::string_view>, 3>
    kGlobalNames = {{{"token_embd", "model.embed_tokens"},
                     {"output_norm", "model.norm"},
                     {"output", "lm_head"}}};

// Splits "stem.weight" / "stem.bias" into stem and suffix.
std::optional<std::pair<std::string_view, std::string_view>> SplitSuffix(
    std::string_view name) {
  for (std::string_view suffix :
       {std::string_view(".weight"), std::string_view(".bias")}) {
    if (name.size() > suffix.size() && name.ends_with(suffix)) {
      return std::pair(name.substr(0, name.size() - suffix.size()), suffix);
    }
  }
  return std::nullopt;
}

// "blk.N.rest" -> (N, rest) with N a plain decimal number.
std::optional<std::pair<std::string_view, std::string_view>> SplitBlock(
    std::string_view stem) {
  constexpr std::string_view kPrefix = "blk.";
  if (!stem.starts_with(kPrefix)) return std::nullopt;
  stem.remove_prefix(kPrefix.size());
  const size_t dot = stem.find('.');
  if (dot == std::string_view::npos || dot == 0) return std::nullopt;
  const std::string_view number = stem.substr(0, dot);
  uint32_t block = 0;
  auto [end, error] =
      std::from_chars(number.data(), number.data() + number.size(), block);
  if (error != std::errc() || end != number.data() + number.size() ||
      (number.size() > 1 && number[0] == '0')) {
    return std::nullopt;
  }
  return std::pair(number, stem.substr(dot + 1));
}

}  // namespace

std::optional<HfTensorName> LlamaHfName(std::string_view gguf_name) {
  auto split = SplitSuffix(gguf_name);
  if (!split) return std::nullopt;
  const auto [stem, suffix] = *split;
  for (const auto& [gguf, hf] : kGlobalNames) {
    if (stem == gguf)
      return HfTensorName{std::string(hf) + std::string(suffix)};
  }
  auto block = SplitBlock(stem);
  if (!block) return std::nullopt;
  for (const BlockName& entry : kBlockNames) {
    if (block->second != entry.gguf) continue;
    return HfTensorName{"model.layers." + std::string(block->first) + "." +
                            std::string(entry.hf) + std::string(suffix),
                        entry.permutation};
  }
  return std::nullopt;
}

at::Tensor UndoRotaryPermutation(const at::Tensor& weight, int64_t head_count) {
  const int64_t rows = weight.size(0);
  const int64_t half = rows / head_count / 2;
  std::vector<int64_t> split_shape = {head_count, half, 2};
  for (int64_t d = 1; d < weight.dim(); ++d)
    split_shape.push_back(weight.size(d));
  return weight.reshape(split_shape)
      .transpose(1, 2)
      .reshape(weight.sizes())
      .contiguous();
}

at::Tensor ApplyRotaryPermutation(const at::Tensor& rows, int64_t head_count) {
  const int64_t count = rows.size(0);
  const int64_t half = count / head_count / 2;
  std::vector<int64_t> split_shape = {head_count, 2, half};
  for (int64_t d = 1; d < rows.dim(); ++d) split_shape.push_back(rows.size(d));
  return rows.reshape(split_shape)
      .transpose(1, 2)
      .reshape(rows.sizes())
      .contiguous();
}

}  // namespace quantd::engine::io
