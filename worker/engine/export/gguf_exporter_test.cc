// GGUF export: the Q4_0/Q4_1/Q8_0 blocks decoded by the engine's own ggml
// decoder equal the formula of gguf_exporter.h with float16 d and m, and
// a whole file written from a tiny llama GGUF reads back (metadata, types,
// HF-named tensors with the rotary permutation undone) as the
// fake-quantized model up to the reported float16 rounding.
#include "worker/engine/export/gguf_exporter.h"

#include <c10/util/Half.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "worker/engine/export/atomic_file.h"
#include "worker/engine/export/export_error.h"
#include "worker/engine/export/export_test_util.h"
#include "worker/engine/io/gguf_config.h"
#include "worker/engine/io/gguf_reader.h"
#include "worker/engine/io/io_test_util.h"
#include "worker/engine/io/tensor_decode.h"

namespace quantd::engine::exporting {
namespace {

namespace fs = std::filesystem;
using contract::GgufType;

io::StorageType StorageOf(GgufType type) {
  switch (type) {
    case GgufType::kQ4_0:
      return io::StorageType::kQ4_0;
    case GgufType::kQ4_1:
      return io::StorageType::kQ4_1;
    case GgufType::kQ8_0:
      return io::StorageType::kQ8_0;
  }
  return io::StorageType::kF32;
}

float Half(float value) { return static_cast<float>(c10::Half(value)); }

struct Encoded {
  std::vector<std::byte> bytes;
  at::Tensor decoded;
  double scale_rounding = 0.0;
  double weight_change = 0.0;
};

Encoded EncodeAndDecode(GgufType type, const at::Tensor& codes,
                        const at::Tensor& scales, const at::Tensor& zero_points,
                        int64_t qmin) {
  Encoded out;
  out.bytes = EncodeGgufBlocks(type, codes, scales, zero_points, qmin, "test",
                               out.scale_rounding, out.weight_change);
  out.decoded = io::DecodeToFloat(StorageOf(type), out.bytes, codes.sizes());
  return out;
}

// gguf_exporter.h's formula, with d = half(Δ) and m = half((lo − zp)·Δ).
at::Tensor Formula(GgufType type, const at::Tensor& codes,
                   const at::Tensor& scales, const at::Tensor& zero_points,
                   int64_t qmin) {
  const int64_t rows = codes.size(0), cols = codes.size(1);
  const int64_t lo = qmin < 0 ? -8 : 0;
  at::Tensor out = at::empty({rows, cols}, at::kFloat);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t q = codes[r][c].item<int64_t>();
      const int64_t zp = zero_points[r][c / 32].item<int64_t>();
      const float scale = scales[r][c / 32].item<float>();
      const float d = Half(scale);
      float value = 0.0f;
      if (type == GgufType::kQ4_1) {
        const float m = Half(static_cast<float>(lo - zp) * scale);
        value = static_cast<float>(q - lo) * d + m;
      } else {
        value = static_cast<float>(q - zp) * d;
      }
      out[r][c] = value;
    }
  }
  return out;
}

// (q − zp)·Δ in float32: the weight the job computed with.
at::Tensor Exact(const at::Tensor& codes, const at::Tensor& scales,
                 const at::Tensor& zero_points) {
  const at::Tensor per_element_scale = scales.repeat_interleave(32, 1);
  const at::Tensor per_element_zero =
      zero_points.repeat_interleave(32, 1).to(at::kLong);
  return (codes.to(at::kLong) - per_element_zero).to(at::kFloat) *
         per_element_scale;
}

struct BlockCase {
  GgufType type;
  int64_t code_low, code_high;  // Codes drawn from [low, high).
  int64_t zero_low, zero_high;  // Zero points drawn from [low, high).
  int64_t qmin;
  size_t block_bytes;
  double code_span;  // Bounds |stored| and |lo − zp|.
};

TEST(EncodeGgufBlocksTest, DecodesToTheFormulaWithinTheReportedBound) {
  const BlockCase cases[] = {
      {GgufType::kQ4_0, -8, 8, 0, 1, -8, 18, 16},   // Symmetric 4-bit.
      {GgufType::kQ4_1, 0, 16, 0, 16, 0, 20, 16},   // Unsigned asymmetric.
      {GgufType::kQ4_1, -8, 8, -8, 8, -8, 20, 16},  // Signed asymmetric.
      {GgufType::kQ8_0, -127, 128, 0, 1, -127, 34, 128}};  // Symmetric 8-bit.
  at::manual_seed(11);
  for (const BlockCase& c : cases) {
    SCOPED_TRACE(contract::GgufTypeName(c.type));
    const at::Tensor codes =
        at::randint(c.code_low, c.code_high, {4, 64}, at::kLong);
    const at::Tensor scales = at::rand({4, 2}) * 0.1 + 0.01;
    const at::Tensor zeros =
        at::randint(c.zero_low, c.zero_high, {4, 2}, at::kInt);
    const Encoded encoded =
        EncodeAndDecode(c.type, codes, scales, zeros, c.qmin);
    EXPECT_EQ(encoded.bytes.size(), 4 * 2 * c.block_bytes);
    EXPECT_TRUE(at::equal(encoded.decoded,
                          Formula(c.type, codes, scales, zeros, c.qmin)));
    const double change = (encoded.decoded - Exact(codes, scales, zeros))
                              .abs()
                              .max()
                              .item<double>();
    EXPECT_GT(change, 0.0);  // Random scales are not halves.
    EXPECT_LE(change, encoded.weight_change);
    // Half rounding of d (and m): at most 2^-11 of each, scales ≤ 0.11.
    EXPECT_LE(encoded.weight_change, 2 * c.code_span * 0.11 * 0x1p-11);
    EXPECT_GT(encoded.scale_rounding, 0.0);
    EXPECT_LE(encoded.scale_rounding, 0x1p-11);
  }
}

TEST(EncodeGgufBlocksTest, RefusesCodesThatDoNotFit) {
  const at::Tensor scales = at::full({1, 1}, 0.5f);
  const at::Tensor zero = at::zeros({1, 1}, at::kInt);
  double rounding = 0.0, change = 0.0;
  at::Tensor codes = at::zeros({1, 32}, at::kLong);
  codes[0][5] = 8;  // q − zp + 8 = 16.
  EXPECT_THROW(EncodeGgufBlocks(GgufType::kQ4_0, codes, scales, zero, -8, "t",
                                rounding, change),
               ExportError);
  codes[0][5] = 16;  // q − lo = 16.
  EXPECT_THROW(EncodeGgufBlocks(GgufType::kQ4_1, codes, scales, zero, 0, "t",
                                rounding, change),
               ExportError);
  codes[0][5] = 128;  // q − zp = 128.
  EXPECT_THROW(EncodeGgufBlocks(GgufType::kQ8_0, codes, scales, zero, -127, "t",
                                rounding, change),
               ExportError);
  // Groups that are not blocks of 32.
  EXPECT_THROW(EncodeGgufBlocks(GgufType::kQ8_0, at::zeros({1, 48}, at::kLong),
                                scales, zero, -127, "t", rounding, change),
               ExportError);
}

// A llama GGUF: hidden 32, 2 blocks, 4 heads (2 KV heads, head_dim 8),
// ffn 64, 8 tokens, tied embeddings, float32 tensors and a rope_freqs.
constexpr int64_t kHidden = 32;
constexpr int64_t kFfn = 64;
constexpr int64_t kKvRows = 16;
constexpr int64_t kBlocks = 2;

std::string RandomFloats(int64_t count, float mean) {
  const at::Tensor values = (at::randn({count}) * 0.2 + mean).contiguous();
  const float* data = values.data_ptr<float>();
  return io::testing::Floats(std::vector<float>(data, data + count));
}

std::string TinyLlamaGguf() {
  at::manual_seed(5);
  io::testing::GgufBuilder builder;
  builder.String("general.architecture", "llama")
      .String("general.name", "tiny")
      .Uint32("general.file_type", 0)
      .Uint32("llama.block_count", kBlocks)
      .Uint32("llama.context_length", 64)
      .Uint32("llama.embedding_length", kHidden)
      .Uint32("llama.feed_forward_length", kFfn)
      .Uint32("llama.attention.head_count", 4)
      .Uint32("llama.attention.head_count_kv", 2)
      .Float32("llama.attention.layer_norm_rms_epsilon", 1e-5f)
      .Float32("llama.rope.freq_base", 10000.0f)
      .Uint32("llama.rope.dimension_count", 8)
      .String("tokenizer.ggml.model", "gpt2")
      .String("tokenizer.ggml.pre", "default")
      .StringArray("tokenizer.ggml.tokens",
                   {"<s>", "</s>", "a", "b", "c", "ab", "bc", "abc"})
      .Int32Array("tokenizer.ggml.token_type", {3, 3, 1, 1, 1, 1, 1, 1})
      .StringArray("tokenizer.ggml.merges", {"a b", "b c", "a bc"})
      .Uint32("tokenizer.ggml.bos_token_id", 0)
      .Uint32("tokenizer.ggml.eos_token_id", 1)
      .Bool("tokenizer.ggml.add_bos_token", false)
      .String("tokenizer.chat_template", "{{ messages[0]['content'] }}");
  constexpr uint32_t kF32 = io::testing::kGgmlF32;
  builder.Tensor("token_embd.weight", {kHidden, 8}, kF32,
                 RandomFloats(kHidden * 8, 0.0f));
  const std::vector<std::pair<std::string, std::vector<int64_t>>> block = {
      {"attn_norm", {kHidden}},
      {"attn_q", {kHidden, kHidden}},
      {"attn_k", {kHidden, kKvRows}},
      {"attn_v", {kHidden, kKvRows}},
      {"attn_output", {kHidden, kHidden}},
      {"ffn_gate", {kHidden, kFfn}},
      {"ffn_up", {kHidden, kFfn}},
      {"ffn_down", {kFfn, kHidden}},
      {"ffn_norm", {kHidden}}};
  for (int64_t b = 0; b < kBlocks; ++b) {
    for (const auto& [name, dims] : block) {
      const int64_t count = dims.size() == 1 ? dims[0] : dims[0] * dims[1];
      builder.Tensor("blk." + std::to_string(b) + "." + name + ".weight", dims,
                     kF32, RandomFloats(count, dims.size() == 1 ? 1.0f : 0.0f));
    }
  }
  builder.Tensor("output_norm.weight", {kHidden}, kF32,
                 RandomFloats(kHidden, 1.0f));
  builder.Tensor("rope_freqs.weight", {4}, kF32, RandomFloats(4, 1.0f));
  return builder.Build();
}

bool IsLinearWeight(const std::string& name) {
  return name.ends_with("_proj.weight");
}

struct GgufCase {
  GgufType type;
  int bits;
  bool symmetric;
  uint32_t file_type;  // llama.cpp's LLAMA_FTYPE_MOSTLY_*.
};

class GgufExporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::ScratchDir("gguf");
    source_path_ = dir_ / "tiny.gguf";
    WriteFileAtomically(source_path_, TinyLlamaGguf());
    source_ = io::GgufReader::Open(source_path_);
    config_ = io::ConfigFromGguf(source_->file());
  }
  void TearDown() override { testing::RemoveScratch(dir_); }

  GgufOptions Options(GgufType type, const std::string& sub_dir) const {
    return {dir_ / sub_dir, source_path_, type, "rtn", "w4a16-g32"};
  }

  // Block `index` of the source with its Linear weights fake-quantized by
  // `config`; records the expected tensors.
  std::vector<std::pair<std::string, at::Tensor>> Block(
      int64_t index, const quant::QuantConfig& config,
      std::vector<QuantizedLinear>& linears) {
    const std::string prefix = "model.layers." + std::to_string(index) + ".";
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const io::TensorInfo& info : source_->Tensors()) {
      if (!info.name.starts_with(prefix)) continue;
      at::Tensor tensor = source_->LoadFloat(info.name);
      if (IsLinearWeight(info.name)) {
        testing::FakeQuantized q = testing::FakeQuantizeWeight(tensor, config);
        tensor = q.weight;
        linears.push_back(
            {info.name.substr(0,
                              info.name.size() - std::string(".weight").size()),
             config, q.qparams});
      }
      expected_[info.name] = tensor;
      tensors.emplace_back(info.name, tensor);
    }
    return tensors;
  }

  std::vector<std::pair<std::string, at::Tensor>> Residents() {
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const char* name :
         {"model.embed_tokens.weight", "model.norm.weight"}) {
      expected_[name] = source_->LoadFloat(name);
      tensors.emplace_back(name, expected_[name]);
    }
    return tensors;
  }

  fs::path dir_;
  fs::path source_path_;
  std::unique_ptr<io::GgufReader> source_;
  io::ModelConfig config_;
  std::map<std::string, at::Tensor> expected_;
};

class GgufRoundTripTest : public GgufExporterTest,
                          public ::testing::WithParamInterface<GgufCase> {};

TEST_P(GgufRoundTripTest, WrittenFileReadsBackAsTheQuantizedModel) {
  const GgufCase& c = GetParam();
  quant::QuantConfig weights;
  weights.bits = c.bits;
  weights.symmetric = c.symmetric;
  weights.granularity = quant::Granularity::kPerGroup;
  weights.group_size = 32;
  GgufExporter exporter(config_, Options(c.type, "gguf"));
  // Residents first: held until every block is in.
  exporter.AddResident(Residents());
  for (int64_t b = 0; b < kBlocks; ++b) {
    std::vector<QuantizedLinear> linears;
    const auto tensors = Block(b, weights, linears);
    ASSERT_EQ(linears.size(), 7u);
    exporter.AddBlock(b, tensors, linears);
  }
  const std::vector<ShardFile> files = exporter.Finish();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].name, "model.gguf");
  const nlohmann::json summary = exporter.Summary();
  EXPECT_EQ(summary["type"], contract::GgufTypeName(c.type));
  EXPECT_EQ(summary["quantized_tensors"], 14);
  const double bound = summary["weight_max_abs_change"].get<double>();
  EXPECT_LE(summary["scale_max_relative_rounding"].get<double>(), 0x1p-11);

  auto written = io::GgufReader::Open(dir_ / "gguf/model.gguf");
  const io::GgufMetadata& metadata = written->file().metadata();
  int tokenizer_keys = 0;
  for (const auto& [key, value] : source_->file().metadata().entries()) {
    if (!key.starts_with("tokenizer.") && !key.starts_with("llama.")) continue;
    const io::GgufValue* copy = metadata.Find(key);
    ASSERT_NE(copy, nullptr) << key;
    EXPECT_EQ(copy->type, value.type) << key;
    EXPECT_EQ(copy->element_type, value.element_type) << key;
    EXPECT_TRUE(copy->data == value.data) << key;
    tokenizer_keys += key.starts_with("tokenizer.") ? 1 : 0;
  }
  EXPECT_EQ(tokenizer_keys, 9);
  EXPECT_EQ(metadata.GetString("general.architecture"), "llama");
  EXPECT_EQ(metadata.GetInt("general.file_type"),
            static_cast<int64_t>(c.file_type));
  EXPECT_EQ(metadata.GetString("quantd.method"), "rtn");
  EXPECT_EQ(metadata.GetString("quantd.scheme"), "w4a16-g32");

  ASSERT_EQ(written->Tensors().size(), source_->Tensors().size());
  double largest_change = 0.0;
  for (const auto& [name, expected] : expected_) {
    SCOPED_TRACE(name);
    const io::GgufTensorInfo& stored = written->StoredTensor(name);
    EXPECT_EQ(stored.shape, source_->StoredTensor(name).shape);
    const at::Tensor loaded = written->LoadFloat(name);
    if (IsLinearWeight(name)) {
      EXPECT_EQ(stored.storage, StorageOf(c.type));
      EXPECT_EQ(stored.ggml_type, static_cast<uint32_t>(c.type));
      const double change = (loaded - expected).abs().max().item<double>();
      EXPECT_LE(change, bound);
      largest_change = std::max(largest_change, change);
    } else {
      EXPECT_EQ(stored.storage, io::StorageType::kF32);
      EXPECT_TRUE(at::equal(loaded, expected));
    }
  }
  EXPECT_GT(largest_change, 0.0);
  // Far below a quantization step: every row is where llama.cpp expects it.
  EXPECT_LT(bound, 1e-3);
  // No HF counterpart: copied byte for byte.
  const io::GgufTensorInfo* rope =
      written->file().FindTensor("rope_freqs.weight");
  ASSERT_NE(rope, nullptr);
  const auto copied = written->file().TensorBytes(*rope);
  const auto original = source_->file().TensorBytes(
      *source_->file().FindTensor("rope_freqs.weight"));
  EXPECT_TRUE(std::equal(copied.begin(), copied.end(), original.begin(),
                         original.end()));
}

INSTANTIATE_TEST_SUITE_P(
    Types, GgufRoundTripTest,
    ::testing::Values(GgufCase{GgufType::kQ4_1, 4, false, 3},
                      GgufCase{GgufType::kQ4_0, 4, true, 2},
                      GgufCase{GgufType::kQ8_0, 8, true, 7}),
    [](const ::testing::TestParamInfo<GgufCase>& info) {
      return std::string(contract::GgufTypeName(info.param.type));
    });

TEST_F(GgufExporterTest, RefusesBlocksOutOfOrder) {
  quant::QuantConfig weights;
  weights.bits = 4;
  weights.granularity = quant::Granularity::kPerGroup;
  weights.group_size = 32;
  GgufExporter exporter(config_, Options(GgufType::kQ4_1, "out_of_order"));
  std::vector<QuantizedLinear> linears;
  const auto tensors = Block(1, weights, linears);
  EXPECT_THROW(exporter.AddBlock(1, tensors, linears), ExportError);
}

}  // namespace
}  // namespace quantd::engine::exporting
