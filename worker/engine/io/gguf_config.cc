#include "worker/engine/io/gguf_config.h"

#include <limits>
#include <string>

#include "worker/engine/io/format_error.h"

namespace quantd::engine::io {
namespace {

constexpr int64_t kMaxDimension = int64_t{1} << 20;
constexpr int64_t kMaxLayers = 4096;
constexpr int64_t kMaxPositions = int64_t{1} << 24;

int64_t CheckRange(const GgufFile& file, std::string_view key, int64_t value,
                   int64_t min, int64_t max) {
  if (value < min || value > max) {
    throw FormatError::ForField(file.path(), std::string(key),
                                "out of range: " + std::to_string(value) +
                                    " (must be in [" + std::to_string(min) +
                                    ", " + std::to_string(max) + "])");
  }
  return value;
}

int64_t RequiredInt(const GgufFile& file, std::string_view key, int64_t min,
                    int64_t max) {
  return CheckRange(file, key, file.metadata().GetInt(key), min, max);
}

// A token id key: -1 when absent, else inside the vocabulary.
int64_t TokenId(const GgufFile& file, std::string_view key,
                int64_t vocab_size) {
  auto id = file.metadata().FindInt(key);
  return id ? CheckRange(file, key, *id, 0, vocab_size - 1) : -1;
}

int64_t VocabSize(const GgufFile& file) {
  const GgufMetadata& metadata = file.metadata();
  if (metadata.Contains("tokenizer.ggml.tokens")) {
    const auto size = static_cast<int64_t>(
        metadata.GetStringArray("tokenizer.ggml.tokens").size());
    auto declared = metadata.FindInt("llama.vocab_size");
    if (declared && *declared != size) {
      throw FormatError::ForField(
          file.path(), "llama.vocab_size",
          std::to_string(*declared) + " disagrees with the " +
              std::to_string(size) + " entries of tokenizer.ggml.tokens");
    }
    return CheckRange(file, "tokenizer.ggml.tokens", size, 1,
                      std::numeric_limits<int32_t>::max());
  }
  return RequiredInt(file, "llama.vocab_size", 1,
                     std::numeric_limits<int32_t>::max());
}

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    text += (i == 0 ? "" : ", ") + std::to_string(shape[i]);
  }
  return text + "]";
}

void CheckShape(const GgufFile& file, const char* name,
                const std::vector<int64_t>& expected) {
  const GgufTensorInfo* info = file.FindTensor(name);
  if (info == nullptr) {
    if (std::string_view(name) == "output.weight") return;
    throw FormatError::ForTensor(file.path(), name, "missing");
  }
  if (info->shape != expected) {
    throw FormatError::ForTensor(file.path(), name,
                                 "shape " + ShapeText(info->shape) +
                                     " does not match [vocab_size, "
                                     "embedding_length] = " +
                                     ShapeText(expected) +
                                     " from the metadata");
  }
}

void ReadHeads(const GgufFile& file, ModelConfig& c) {
  const GgufMetadata& metadata = file.metadata();
  c.num_heads =
      RequiredInt(file, "llama.attention.head_count", 1, c.hidden_size);
  c.num_kv_heads = CheckRange(
      file, "llama.attention.head_count_kv",
      metadata.FindInt("llama.attention.head_count_kv").value_or(c.num_heads),
      1, c.num_heads);
  if (c.num_heads % c.num_kv_heads != 0) {
    throw FormatError::ForField(file.path(), "llama.attention.head_count_kv",
                                "does not divide llama.attention.head_count");
  }
  if (!metadata.Contains("llama.attention.key_length") &&
      c.hidden_size % c.num_heads != 0) {
    throw FormatError::ForField(file.path(), "llama.attention.head_count",
                                "does not divide llama.embedding_length");
  }
  c.head_dim = CheckRange(file, "llama.attention.key_length",
                          metadata.FindInt("llama.attention.key_length")
                              .value_or(c.hidden_size / c.num_heads),
                          1, kMaxDimension);
  auto rotary = metadata.FindInt("llama.rope.dimension_count");
  if (rotary && *rotary != c.head_dim) {
    throw FormatError::ForField(
        file.path(), "llama.rope.dimension_count",
        "partial rotary embeddings (" + std::to_string(*rotary) + " of " +
            std::to_string(c.head_dim) + ") are not supported");
  }
}

}  // namespace

ModelConfig ConfigFromGguf(const GgufFile& file) {
  const GgufMetadata& metadata = file.metadata();
  ModelConfig c;
  c.model_type = metadata.GetString("general.architecture");
  if (c.model_type != "llama") {
    throw FormatError::ForField(file.path(), "general.architecture",
                                "unsupported GGUF architecture '" +
                                    c.model_type + "' (supported: llama)");
  }
  c.architecture = Architecture::kLlama;
  c.num_layers = RequiredInt(file, "llama.block_count", 1, kMaxLayers);
  c.hidden_size = RequiredInt(file, "llama.embedding_length", 1, kMaxDimension);
  c.intermediate_size =
      RequiredInt(file, "llama.feed_forward_length", 1, kMaxDimension);
  ReadHeads(file, c);
  c.max_position_embeddings =
      RequiredInt(file, "llama.context_length", 1, kMaxPositions);
  c.norm_eps = metadata.GetFloat("llama.attention.layer_norm_rms_epsilon");
  if (!(c.norm_eps > 0 && c.norm_eps < 1)) {
    throw FormatError::ForField(file.path(),
                                "llama.attention.layer_norm_rms_epsilon",
                                "out of range (must be in (0, 1))");
  }
  c.rope_theta = metadata.FindFloat("llama.rope.freq_base").value_or(10000.0);
  if (!(c.rope_theta > 0)) {
    throw FormatError::ForField(file.path(), "llama.rope.freq_base",
                                "must be positive");
  }
  auto scaling = metadata.FindString("llama.rope.scaling.type");
  if (scaling && *scaling != "none") {
    throw FormatError::ForField(
        file.path(), "llama.rope.scaling.type",
        "rope scaling '" + *scaling + "' is not supported");
  }
  c.vocab_size = VocabSize(file);
  CheckShape(file, "token_embd.weight", {c.vocab_size, c.hidden_size});
  CheckShape(file, "output.weight", {c.vocab_size, c.hidden_size});
  c.tie_word_embeddings = file.FindTensor("output.weight") == nullptr;
  c.hidden_act = "silu";
  c.bos_token_id = TokenId(file, "tokenizer.ggml.bos_token_id", c.vocab_size);
  c.eos_token_id = TokenId(file, "tokenizer.ggml.eos_token_id", c.vocab_size);
  c.pad_token_id =
      TokenId(file, "tokenizer.ggml.padding_token_id", c.vocab_size);
  return c;
}

tokenizer::TokenizerData TokenizerFromGguf(const GgufFile& file) {
  const GgufMetadata& metadata = file.metadata();
  tokenizer::TokenizerData data;
  data.kind = tokenizer::TokenizerData::Kind::kGgufBpe;
  data.gguf_path = file.path();
  data.model = metadata.GetString("tokenizer.ggml.model");
  data.pre = metadata.FindString("tokenizer.ggml.pre").value_or("default");
  data.tokens = metadata.GetStringArray("tokenizer.ggml.tokens");
  const auto vocab_size = static_cast<int64_t>(data.tokens.size());
  if (vocab_size == 0) {
    throw FormatError::ForField(file.path(), "tokenizer.ggml.tokens", "empty");
  }
  if (metadata.Contains("tokenizer.ggml.token_type")) {
    for (int64_t type : metadata.GetIntArray("tokenizer.ggml.token_type")) {
      data.token_types.push_back(static_cast<int32_t>(
          CheckRange(file, "tokenizer.ggml.token_type", type, 0, 6)));
    }
    if (static_cast<int64_t>(data.token_types.size()) != vocab_size) {
      throw FormatError::ForField(
          file.path(), "tokenizer.ggml.token_type",
          "has " + std::to_string(data.token_types.size()) + " entries for " +
              std::to_string(vocab_size) + " tokens");
    }
  }
  if (metadata.Contains("tokenizer.ggml.merges")) {
    data.merges = metadata.GetStringArray("tokenizer.ggml.merges");
  }
  data.bos_id = TokenId(file, "tokenizer.ggml.bos_token_id", vocab_size);
  data.eos_id = TokenId(file, "tokenizer.ggml.eos_token_id", vocab_size);
  data.unk_id = TokenId(file, "tokenizer.ggml.unknown_token_id", vocab_size);
  data.pad_id = TokenId(file, "tokenizer.ggml.padding_token_id", vocab_size);
  // llama.cpp's defaults: SentencePiece vocabularies add BOS, BPE ones don't.
  data.add_bos = metadata.FindBool("tokenizer.ggml.add_bos_token")
                     .value_or(data.model == "llama");
  data.add_eos =
      metadata.FindBool("tokenizer.ggml.add_eos_token").value_or(false);
  return data;
}

}  // namespace quantd::engine::io
