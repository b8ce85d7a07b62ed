#include "worker/engine/io/gguf_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "worker/engine/io/format_error.h"
#include "worker/engine/io/gguf_file.h"
#include "worker/engine/io/io_test_util.h"

namespace quantd::engine::io {
namespace {

using testing::Bytes;
using testing::GgufBuilder;
using ::testing::HasSubstr;
using testing::TempDir;

std::vector<float> Values(const at::Tensor& tensor) {
  const at::Tensor flat = tensor.contiguous().view(-1);
  return {flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel()};
}

std::string Half(uint16_t bits) { return Bytes(bits); }

// One tensor of `dims` (innermost first) holding `data`, dequantized.
at::Tensor LoadOne(uint32_t ggml_type, std::vector<int64_t> dims,
                   const std::string& data) {
  TempDir dir;
  const GgufFile file(dir.Write(
      "t.gguf", GgufBuilder().Tensor("t", dims, ggml_type, data).Build()));
  return file.LoadFloat(file.tensors().at(0));
}

TEST(GgufReaderTest, SyntheticBlocksMatchGgufPy) {
  const auto expected = testing::ReadJsonFixture("synthetic_quants.json");
  const GgufFile file(testing::SourceDir() /
                      "tests/fixtures/io/synthetic_quants.gguf");
  ASSERT_EQ(file.tensors().size(), expected.size());
  for (const auto& [name, reference] : expected.items()) {
    const GgufTensorInfo* info = file.FindTensor(name);
    ASSERT_NE(info, nullptr) << name;
    const at::Tensor tensor = file.LoadFloat(*info);
    EXPECT_EQ(tensor.sizes().vec(),
              reference.at("shape").get<std::vector<int64_t>>());
    const std::vector<float> values = Values(tensor);
    const auto want = reference.at("values").get<std::vector<double>>();
    ASSERT_EQ(values.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      // gguf-py computes in float32 in the same order: bit-exact.
      ASSERT_EQ(values[i], static_cast<float>(want[i]))
          << name << "[" << i << "]";
    }
  }
}

TEST(GgufReaderTest, ReadsEveryMetadataType) {
  const GgufFile file(testing::SourceDir() /
                      "tests/fixtures/io/synthetic_quants.gguf");
  const GgufMetadata& metadata = file.metadata();
  EXPECT_EQ(file.version(), 3u);
  EXPECT_EQ(metadata.GetString("general.architecture"), "synthetic");
  EXPECT_EQ(metadata.GetInt("synthetic.answer"), 42);
  EXPECT_EQ(metadata.GetFloat("synthetic.ratio"), 0.25);
  EXPECT_TRUE(metadata.GetBool("synthetic.flag"));
  EXPECT_EQ(metadata.GetString("synthetic.text"), "h\xC3\xA9llo");
  EXPECT_EQ(metadata.GetStringArray("synthetic.words"),
            (std::vector<std::string>{"a", "bc", ""}));
  EXPECT_EQ(metadata.GetIntArray("synthetic.numbers"),
            (std::vector<int64_t>{3, -1, 7}));
  EXPECT_EQ(metadata.GetInt("synthetic.big"), -(int64_t{1} << 40));
  EXPECT_EQ(metadata.GetFloat("synthetic.precise"), 1.0 / 3.0);
  EXPECT_FALSE(metadata.FindInt("absent").has_value());
  try {
    metadata.GetInt("synthetic.text");
    FAIL();
  } catch (const FormatError& error) {
    EXPECT_THAT(error.what(), HasSubstr("field 'synthetic.text': wrong type: "
                                        "expected integer, got string"));
  }
}

TEST(GgufReaderTest, HandMadeQ8_0AndQ4Blocks) {
  std::string q8 = Half(0x3800);  // d = 0.5
  for (int j = 0; j < 32; ++j) q8 += static_cast<char>(j - 16);
  std::string q4_0 = Half(0x3400);                 // d = 0.25
  std::string q4_1 = Half(0x3800) + Half(0xBC00);  // d = 0.5, m = -1
  for (int j = 0; j < 16; ++j) {
    q4_0 += static_cast<char>(j | ((15 - j) << 4));
    q4_1 += static_cast<char>(j | ((15 - j) << 4));
  }
  const auto y8 = Values(LoadOne(testing::kGgmlQ8_0, {32}, q8));
  const auto y40 = Values(LoadOne(testing::kGgmlQ4_0, {32}, q4_0));
  const auto y41 = Values(LoadOne(testing::kGgmlQ4_1, {32}, q4_1));
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y8[j], (j - 16) * 0.5f);
    EXPECT_EQ(y8[j + 16], j * 0.5f);
    // Low nibbles fill the first half of the block, high nibbles the second.
    EXPECT_EQ(y40[j], (j - 8) * 0.25f);
    EXPECT_EQ(y40[j + 16], (7 - j) * 0.25f);
    EXPECT_EQ(y41[j], j * 0.5f - 1.0f);
    EXPECT_EQ(y41[j + 16], (15 - j) * 0.5f - 1.0f);
  }
}

// A Q4_K super-block from 6-bit scales/mins and 4-bit quants, packed as
// ggml's block_q4_K documents, with the values it must decode to.
TEST(GgufReaderTest, HandMadeQ4_KBlock) {
  const int scale[8] = {1, 2, 3, 4, 17, 33, 50, 63};
  const int min[8] = {0, 1, 2, 3, 16, 20, 40, 63};
  uint8_t packed[12] = {};
  for (int j = 0; j < 4; ++j) {
    packed[j] = static_cast<uint8_t>(scale[j] | ((scale[j + 4] >> 4) << 6));
    packed[j + 4] = static_cast<uint8_t>(min[j] | ((min[j + 4] >> 4) << 6));
    packed[j + 8] =
        static_cast<uint8_t>((scale[j + 4] & 0xF) | ((min[j + 4] & 0xF) << 4));
  }
  std::string block = Half(0x3C00) + Half(0x3800);  // d = 1, dmin = 0.5
  block.append(reinterpret_cast<const char*>(packed), 12);
  for (int byte = 0; byte < 128; ++byte) {
    block += static_cast<char>((byte % 16) | ((15 - byte % 16) << 4));
  }
  const auto y = Values(LoadOne(testing::kGgmlQ4_K, {256}, block));
  for (int sub = 0; sub < 8; ++sub) {
    for (int l = 0; l < 32; ++l) {
      // Sub-blocks 2k and 2k+1 share bytes 32k..32k+31: low then high nibble.
      const int q = sub % 2 == 0 ? l % 16 : 15 - l % 16;
      const float want =
          1.0f * static_cast<float>(scale[sub]) * static_cast<float>(q) -
          0.5f * static_cast<float>(min[sub]);
      ASSERT_EQ(y[sub * 32 + l], want) << "sub-block " << sub << " index " << l;
    }
  }
}

// A Q6_K super-block: 6-bit quants split into ql (low 4 bits) and qh
// (high 2 bits), int8 scales per 16 values, fp16 d at the end.
TEST(GgufReaderTest, HandMadeQ6_KBlock) {
  uint8_t ql[128] = {}, qh[64] = {};
  int8_t scales[16];
  for (int i = 0; i < 16; ++i)
    scales[i] = static_cast<int8_t>((i % 2 ? -1 : 1) * (i + 1));
  auto q_of = [](int e) { return (e * 7) % 64; };
  for (int half = 0; half < 2; ++half) {
    for (int l = 0; l < 32; ++l) {
      const int base = half * 128 + l;
      const int q[4] = {q_of(base), q_of(base + 32), q_of(base + 64),
                        q_of(base + 96)};
      uint8_t* low = ql + half * 64;
      low[l] = static_cast<uint8_t>((q[0] & 0xF) | ((q[2] & 0xF) << 4));
      low[l + 32] = static_cast<uint8_t>((q[1] & 0xF) | ((q[3] & 0xF) << 4));
      qh[half * 32 + l] =
          static_cast<uint8_t>((q[0] >> 4) | ((q[1] >> 4) << 2) |
                               ((q[2] >> 4) << 4) | ((q[3] >> 4) << 6));
    }
  }
  std::string block(reinterpret_cast<const char*>(ql), 128);
  block.append(reinterpret_cast<const char*>(qh), 64);
  block.append(reinterpret_cast<const char*>(scales), 16);
  block += Half(0x3800);  // d = 0.5
  const auto y = Values(LoadOne(testing::kGgmlQ6_K, {256}, block));
  for (int e = 0; e < 256; ++e) {
    const float want = 0.5f * static_cast<float>(scales[e / 16]) *
                       static_cast<float>(q_of(e) - 32);
    ASSERT_EQ(y[e], want) << "element " << e;
  }
}

TEST(GgufReaderTest, HalfAndBFloat16Specials) {
  std::string f16 = Half(0x0001) + Half(0x7C00) + Half(0xFBFF) + Half(0x8000);
  const auto half = Values(LoadOne(testing::kGgmlF16, {4}, f16));
  EXPECT_EQ(half[0], std::ldexp(1.0f, -24));  // Smallest subnormal.
  EXPECT_EQ(half[1], std::numeric_limits<float>::infinity());
  EXPECT_EQ(half[2], -65504.0f);
  EXPECT_TRUE(std::signbit(half[3]));
  std::string bf16 = Half(0x3F80) + Half(0xC040) + Half(0x7F80) + Half(0x0001);
  const auto brain = Values(LoadOne(testing::kGgmlBF16, {4}, bf16));
  EXPECT_EQ(brain[0], 1.0f);
  EXPECT_EQ(brain[1], -3.0f);
  EXPECT_EQ(brain[2], std::numeric_limits<float>::infinity());
  EXPECT_EQ(brain[3], std::ldexp(1.0f, -133));
}

TEST(GgufReaderTest, ShapesArePyTorchOrder) {
  std::vector<float> values(6);
  for (int i = 0; i < 6; ++i) values[i] = static_cast<float>(i);
  // ne = [3, 2]: rows of 3 contiguous values.
  const at::Tensor t =
      LoadOne(testing::kGgmlF32, {3, 2}, testing::Floats(values));
  EXPECT_EQ(t.sizes().vec(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(t[1][0].item<float>(), 3.0f);
}

TEST(GgufLlamaNamesTest, MapsLlamaNamesToHf) {
  EXPECT_EQ(LlamaHfName("token_embd.weight")->name,
            "model.embed_tokens.weight");
  EXPECT_EQ(LlamaHfName("output_norm.weight")->name, "model.norm.weight");
  EXPECT_EQ(LlamaHfName("output.weight")->name, "lm_head.weight");
  const auto q = LlamaHfName("blk.12.attn_q.weight");
  EXPECT_EQ(q->name, "model.layers.12.self_attn.q_proj.weight");
  EXPECT_EQ(q->permutation, RowPermutation::kQuery);
  EXPECT_EQ(LlamaHfName("blk.0.attn_k.weight")->permutation,
            RowPermutation::kKey);
  EXPECT_EQ(LlamaHfName("blk.3.attn_output.weight")->name,
            "model.layers.3.self_attn.o_proj.weight");
  EXPECT_EQ(LlamaHfName("blk.3.ffn_gate.weight")->name,
            "model.layers.3.mlp.gate_proj.weight");
  EXPECT_EQ(LlamaHfName("blk.3.ffn_down.weight")->name,
            "model.layers.3.mlp.down_proj.weight");
  EXPECT_EQ(LlamaHfName("blk.3.attn_norm.weight")->name,
            "model.layers.3.input_layernorm.weight");
  EXPECT_EQ(LlamaHfName("blk.3.ffn_norm.weight")->name,
            "model.layers.3.post_attention_layernorm.weight");
  EXPECT_EQ(LlamaHfName("blk.3.attn_v.bias")->name,
            "model.layers.3.self_attn.v_proj.bias");
  EXPECT_FALSE(LlamaHfName("rope_freqs.weight"));
  EXPECT_FALSE(LlamaHfName("blk.x.attn_q.weight"));
  EXPECT_FALSE(LlamaHfName("blk.01.attn_q.weight"));
  EXPECT_FALSE(LlamaHfName("blk.1.attn_q"));
}

TEST(GgufLlamaNamesTest, UndoesConverterPermutation) {
  // HF q_proj rows for 2 heads of head_dim 4, 3 input columns.
  const at::Tensor hf = at::arange(24, at::kFloat).reshape({8, 3});
  // convert_hf_to_gguf.py: reshape(n_head, 2, half, ...).swapaxes(1, 2).
  const at::Tensor stored =
      hf.reshape({2, 2, 2, 3}).transpose(1, 2).reshape({8, 3}).contiguous();
  ASSERT_FALSE(at::equal(stored, hf));
  EXPECT_TRUE(at::equal(UndoRotaryPermutation(stored, 2), hf));
}

}  // namespace
}  // namespace quantd::engine::io
