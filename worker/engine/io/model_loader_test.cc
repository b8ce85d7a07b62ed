#include "worker/engine/io/model_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "worker/engine/io/format_error.h"
#include "worker/engine/io/io_test_util.h"

namespace quantd::engine::io {
namespace {

using testing::Floats;
using testing::GgufBuilder;
using ::testing::HasSubstr;
using testing::TempDir;

std::string TensorBytes(const at::Tensor& tensor) {
  const at::Tensor flat = tensor.contiguous().view(-1);
  return Floats(
      {flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel()});
}

// ggml dims are the PyTorch shape reversed.
std::vector<int64_t> Dims(const at::Tensor& tensor) {
  auto sizes = tensor.sizes().vec();
  return {sizes.rbegin(), sizes.rend()};
}

// convert_hf_to_gguf.py's permute() for q_proj/k_proj.
at::Tensor ConverterPermute(const at::Tensor& weight, int64_t heads) {
  return weight.reshape({heads, 2, weight.size(0) / heads / 2, weight.size(1)})
      .transpose(1, 2)
      .reshape(weight.sizes())
      .contiguous();
}

// A one-block llama GGUF (hidden 8, 2 heads, 1 KV head, vocab 4) with HF
// tensors chosen to be distinguishable, stored as the converter would.
class TinyLlamaTest : public ::testing::Test {
 protected:
  TinyLlamaTest()
      : embed_(at::arange(32, at::kFloat).reshape({4, 8})),
        q_(at::arange(64, at::kFloat).reshape({8, 8}) + 100),
        k_(at::arange(32, at::kFloat).reshape({4, 8}) + 200) {}

  GgufBuilder Builder(int64_t vocab_in_tokens = 4) {
    GgufBuilder builder;
    builder.String("general.architecture", "llama")
        .Uint32("llama.block_count", 1)
        .Uint32("llama.context_length", 128)
        .Uint32("llama.embedding_length", 8)
        .Uint32("llama.feed_forward_length", 16)
        .Uint32("llama.attention.head_count", 2)
        .Uint32("llama.attention.head_count_kv", 1)
        .Float32("llama.attention.layer_norm_rms_epsilon", 1e-5f)
        .Float32("llama.rope.freq_base", 10000.0f)
        .String("tokenizer.ggml.model", "gpt2")
        .String("tokenizer.ggml.pre", "smollm")
        .StringArray("tokenizer.ggml.tokens", Tokens(vocab_in_tokens))
        .Int32Array("tokenizer.ggml.token_type",
                    std::vector<int32_t>(vocab_in_tokens, 1))
        .StringArray("tokenizer.ggml.merges", {"a b"})
        .Uint32("tokenizer.ggml.bos_token_id", 2)
        .Uint32("tokenizer.ggml.eos_token_id", 3)
        .Bool("tokenizer.ggml.add_bos_token", false);
    const at::Tensor v = at::full({4, 8}, 3.0f);
    builder
        .Tensor("token_embd.weight", Dims(embed_), testing::kGgmlF32,
                TensorBytes(embed_))
        .Tensor("blk.0.attn_q.weight", {8, 8}, testing::kGgmlF32,
                TensorBytes(ConverterPermute(q_, 2)))
        .Tensor("blk.0.attn_k.weight", {8, 4}, testing::kGgmlF32,
                TensorBytes(ConverterPermute(k_, 1)))
        .Tensor("blk.0.attn_v.weight", {8, 4}, testing::kGgmlF32,
                TensorBytes(v))
        .Tensor("blk.0.attn_norm.weight", {8}, testing::kGgmlF32,
                TensorBytes(at::ones({8})))
        .Tensor("output_norm.weight", {8}, testing::kGgmlF32,
                TensorBytes(at::ones({8})));
    return builder;
  }

  static std::vector<std::string> Tokens(int64_t count) {
    const std::vector<std::string> all = {"a", "b", "<s>", "</s>", "c", "d"};
    return {all.begin(), all.begin() + count};
  }

  void ExpectRejected(const std::string& bytes, const std::string& problem) {
    const auto path = dir_.Write("bad.gguf", bytes);
    try {
      OpenModel(path);
      ADD_FAILURE() << "accepted, expected: " << problem;
    } catch (const FormatError& error) {
      EXPECT_THAT(error.what(), HasSubstr(path.string() + ": "));
      EXPECT_THAT(error.what(), HasSubstr(problem));
    }
  }

  TempDir dir_;
  at::Tensor embed_, q_, k_;
};

TEST_F(TinyLlamaTest, LoadsConfigTokenizerAndHfTensors) {
  const auto path = dir_.Write("tiny.gguf", Builder().Build());
  const LoadedModel model = OpenModel(path);
  EXPECT_EQ(model.path, path);
  EXPECT_EQ(model.config.architecture, Architecture::kLlama);
  EXPECT_EQ(model.config.num_layers, 1);
  EXPECT_EQ(model.config.hidden_size, 8);
  EXPECT_EQ(model.config.num_heads, 2);
  EXPECT_EQ(model.config.num_kv_heads, 1);
  EXPECT_EQ(model.config.head_dim, 4);
  EXPECT_EQ(model.config.vocab_size, 4);
  EXPECT_EQ(model.config.max_position_embeddings, 128);
  EXPECT_TRUE(model.config.tie_word_embeddings);
  EXPECT_EQ(model.config.bos_token_id, 2);
  const auto& tokenizer = model.tokenizer;
  EXPECT_EQ(tokenizer.kind, tokenizer::TokenizerData::Kind::kGgufBpe);
  EXPECT_EQ(tokenizer.model, "gpt2");
  EXPECT_EQ(tokenizer.pre, "smollm");
  EXPECT_EQ(tokenizer.tokens, Tokens(4));
  EXPECT_EQ(tokenizer.token_types, std::vector<int32_t>(4, 1));
  EXPECT_EQ(tokenizer.merges, std::vector<std::string>{"a b"});
  EXPECT_EQ(tokenizer.bos_id, 2);
  EXPECT_EQ(tokenizer.eos_id, 3);
  EXPECT_EQ(tokenizer.unk_id, -1);
  EXPECT_FALSE(tokenizer.add_bos);
  const TensorSource& tensors = *model.tensors;
  EXPECT_TRUE(tensors.Contains("model.embed_tokens.weight"));
  EXPECT_FALSE(tensors.Contains("lm_head.weight"));
  EXPECT_FALSE(tensors.Contains("token_embd.weight"));
  EXPECT_TRUE(
      at::equal(tensors.LoadFloat("model.embed_tokens.weight"), embed_));
  EXPECT_TRUE(at::equal(
      tensors.LoadFloat("model.layers.0.self_attn.q_proj.weight"), q_));
  EXPECT_TRUE(at::equal(
      tensors.LoadFloat("model.layers.0.self_attn.k_proj.weight"), k_));
  EXPECT_EQ(tensors.LoadFloat("model.layers.0.self_attn.v_proj.weight")
                .sum()
                .item<float>(),
            96.0f);
  EXPECT_EQ(tensors.Tensors()[1].shape, (std::vector<int64_t>{8, 8}));
}

TEST_F(TinyLlamaTest, RejectsInconsistentMetadata) {
  ExpectRejected(Builder(5).Build(),
                 "tensor 'token_embd.weight': shape [4, 8] does not match");
  ExpectRejected(Builder().Uint32("tokenizer.ggml.unknown_token_id", 4).Build(),
                 "field 'tokenizer.ggml.unknown_token_id': out of range: 4");
  ExpectRejected(Builder().Uint32("llama.rope.dimension_count", 2).Build(),
                 "field 'llama.rope.dimension_count': partial rotary");
}

TEST_F(TinyLlamaTest, RejectsOtherArchitectures) {
  ExpectRejected(
      GgufBuilder().String("general.architecture", "gpt2").Build(),
      "field 'general.architecture': unsupported GGUF architecture 'gpt2'");
  ExpectRejected(GgufBuilder().Uint32("x", 1).Build(),
                 "field 'general.architecture': missing");
}

TEST(ModelLoaderTest, OpensHfDirectoryWithTokenizerJson) {
  TempDir dir;
  dir.Write("config.json",
            R"({"model_type":"bert","vocab_size":10,"hidden_size":4,
      "intermediate_size":8,"num_hidden_layers":1,"num_attention_heads":2})");
  dir.Write("model.safetensors", testing::SafetensorsBuilder()
                                     .Add("w", "F32", {2}, Floats({1, 2}))
                                     .Build());
  dir.Write("tokenizer.json", "{}");
  const LoadedModel model = OpenModel(dir.path());
  EXPECT_EQ(model.config.architecture, Architecture::kBert);
  EXPECT_EQ(model.tokenizer.kind,
            tokenizer::TokenizerData::Kind::kTokenizerJson);
  EXPECT_EQ(model.tokenizer.tokenizer_json, dir.path() / "tokenizer.json");
  EXPECT_EQ(model.tokenizer.pad_id, 0);
  EXPECT_EQ(model.tensors->Tensors().size(), 1u);
  EXPECT_EQ(model.path, dir.path());
}

TEST(ModelLoaderTest, PrefersTheShardIndex) {
  TempDir dir;
  dir.Write("config.json",
            R"({"model_type":"opt","vocab_size":10,"hidden_size":4,
      "ffn_dim":8,"num_hidden_layers":1,"num_attention_heads":2})");
  dir.Write("model.safetensors.index.json",
            R"({"weight_map":{"w":"part.safetensors"}})");
  dir.Write(
      "part.safetensors",
      testing::SafetensorsBuilder().Add("w", "F32", {1}, Floats({1})).Build());
  const LoadedModel model = OpenModel(dir.path());
  EXPECT_THAT(model.tensors->Describe(),
              HasSubstr("model.safetensors.index.json"));
  EXPECT_EQ(model.tokenizer.kind, tokenizer::TokenizerData::Kind::kNone);
}

TEST(ModelLoaderTest, RejectsIncompleteDirectories) {
  TempDir dir;
  try {
    OpenModel(dir.path());
    FAIL();
  } catch (const FormatError& error) {
    EXPECT_THAT(error.what(),
                HasSubstr(dir.path().string() + ": no config.json"));
  }
  dir.Write("config.json",
            R"({"model_type":"opt","vocab_size":10,"hidden_size":4,
      "ffn_dim":8,"num_hidden_layers":1,"num_attention_heads":2})");
  try {
    OpenModel(dir.path());
    FAIL();
  } catch (const FormatError& error) {
    EXPECT_THAT(error.what(), HasSubstr("no model.safetensors"));
  }
  EXPECT_THROW(OpenModel(dir.path() / "absent.gguf"), FormatError);
}

}  // namespace
}  // namespace quantd::engine::io
