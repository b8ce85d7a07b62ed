// The readers on the real models that scripts/bootstrap installs, against
// reference values from the Python implementations (gguf-py, transformers,
// safetensors) computed by tests/fixtures/io/gguf_reference.py. A missing
// model fails the test: these are the parity checks.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "worker/engine/io/gguf_reader.h"
#include "worker/engine/io/io_test_util.h"
#include "worker/engine/io/model_loader.h"

namespace quantd::engine::io {
namespace {

std::filesystem::path ModelPath(const std::string& relative) {
  const auto path = testing::SourceDir() / "models" / relative;
  if (!std::filesystem::exists(path)) {
    throw std::runtime_error(path.string() +
                             " is missing: run scripts/bootstrap");
  }
  return path;
}

void ExpectNear(double actual, double expected, const std::string& what) {
  EXPECT_LE(std::abs(actual - expected),
            1e-6 * std::max(1.0, std::abs(expected)))
      << what << ": " << actual << " vs " << expected;
}

// Compares a tensor with the stats() the reference script writes.
void ExpectMatchesReference(const at::Tensor& tensor, const nlohmann::json& ref,
                            const std::string& name) {
  ASSERT_EQ(tensor.sizes().vec(), ref.at("shape").get<std::vector<int64_t>>())
      << name;
  // One float64 copy, then one pass per statistic.
  const at::Tensor values = tensor.to(at::kDouble).reshape({-1});
  const at::Tensor row_sums = values.reshape({tensor.size(0), -1}).sum(1);
  const at::Tensor weights = at::arange(1, row_sums.size(0) + 1, at::kDouble);
  ExpectNear(values.sum().item<double>(), ref.at("sum"), name + " sum");
  ExpectNear(at::dot(values, values).item<double>(), ref.at("sum_squares"),
             name + " sum_squares");
  ExpectNear(at::dot(row_sums, weights).item<double>(),
             ref.at("row_weighted_sum"), name + " row_weighted_sum");
  const auto first = ref.at("first").get<std::vector<double>>();
  const at::Tensor flat = tensor.reshape({-1});
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(flat[static_cast<int64_t>(i)].item<float>(),
              static_cast<float>(first[i]))
        << name << "[" << i << "]";
  }
}

TEST(RealModelsTest, SmolLm2GgufConfigAndTokenizer) {
  const LoadedModel model =
      OpenModel(ModelPath("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"));
  const ModelConfig& c = model.config;
  EXPECT_EQ(c.architecture, Architecture::kLlama);
  EXPECT_EQ(c.num_layers, 30);
  EXPECT_EQ(c.hidden_size, 576);
  EXPECT_EQ(c.intermediate_size, 1536);
  EXPECT_EQ(c.num_heads, 9);
  EXPECT_EQ(c.num_kv_heads, 3);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.vocab_size, 49152);
  EXPECT_EQ(c.max_position_embeddings, 8192);
  EXPECT_EQ(c.norm_eps, static_cast<double>(1e-5f));
  EXPECT_EQ(c.rope_theta, 100000.0);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.eos_token_id, 2);
  EXPECT_EQ(c.pad_token_id, 2);
  const tokenizer::TokenizerData& t = model.tokenizer;
  EXPECT_EQ(t.model, "gpt2");
  EXPECT_EQ(t.pre, "smollm");
  EXPECT_EQ(t.tokens.size(), 49152u);
  EXPECT_EQ(t.token_types.size(), 49152u);
  EXPECT_EQ(t.merges.size(), 48900u);
  EXPECT_EQ(t.tokens[1], "<|im_start|>");
  EXPECT_EQ(t.unk_id, 0);
  EXPECT_FALSE(t.add_bos);
}

TEST(RealModelsTest, SmolLm2TensorsMatchTransformers) {
  const auto reference = testing::ReadJsonFixture("smollm2_reference.json");
  const LoadedModel model =
      OpenModel(ModelPath("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"));
  const auto& hf = reference.at("hf_tensors");
  ASSERT_EQ(model.tensors->Tensors().size(), hf.size());
  for (const TensorInfo& info : model.tensors->Tensors()) {
    ASSERT_TRUE(hf.contains(info.name)) << info.name;
    ExpectMatchesReference(model.tensors->LoadFloat(info.name),
                           hf.at(info.name), info.name);
  }
}

TEST(RealModelsTest, SmolLm2RawTensorsMatchGgufPy) {
  const auto reference = testing::ReadJsonFixture("smollm2_reference.json");
  const auto reader =
      GgufReader::Open(ModelPath("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"));
  const GgufFile& file = reader->file();
  ASSERT_EQ(file.tensors().size(), reference.at("tensor_count").get<size_t>());
  for (const auto& [name, ref] : reference.at("gguf_tensors").items()) {
    const GgufTensorInfo* info = file.FindTensor(name);
    ASSERT_NE(info, nullptr) << name;
    EXPECT_EQ(StorageTypeName(info->storage),
              ref.at("type").get<std::string>());
    ExpectMatchesReference(file.LoadFloat(*info), ref, name);
  }
}

TEST(RealModelsTest, MiniLmSafetensorsMatchPython) {
  const auto reference = testing::ReadJsonFixture("minilm_reference.json");
  const LoadedModel model = OpenModel(ModelPath("all-minilm-l6-v2"));
  EXPECT_EQ(model.config.architecture, Architecture::kBert);
  EXPECT_EQ(model.tokenizer.kind,
            tokenizer::TokenizerData::Kind::kTokenizerJson);
  const auto& tensors = reference.at("tensors");
  ASSERT_EQ(model.tensors->Tensors().size(),
            reference.at("tensor_count").get<size_t>());
  for (const TensorInfo& info : model.tensors->Tensors()) {
    ASSERT_TRUE(tensors.contains(info.name)) << info.name;
    const std::string dtype = tensors.at(info.name).at("dtype");
    EXPECT_EQ(info.storage,
              dtype == "int64" ? StorageType::kI64 : StorageType::kF32)
        << info.name << " is " << dtype;
    ExpectMatchesReference(model.tensors->LoadFloat(info.name),
                           tensors.at(info.name), info.name);
  }
}

}  // namespace
}  // namespace quantd::engine::io
