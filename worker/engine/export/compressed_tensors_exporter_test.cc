// compressed-tensors' dense int32 packing (hand-computed words, padding,
// values straddling two words) and the CompressedTensorsExporter on the
// tiny LLaMA: the stored codes, scales and zero points dequantize to the
// fake-quantized weights exactly, as compressed-tensors defines them.
#include "worker/engine/export/compressed_tensors_exporter.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "worker/engine/export/export_error.h"
#include "worker/engine/export/export_test_util.h"
#include "worker/engine/io/safetensors_reader.h"

namespace quantd::engine::exporting {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// One row of int32 words as their unsigned bit patterns.
std::vector<uint32_t> Words(const at::Tensor& packed, int64_t row = 0) {
  EXPECT_EQ(packed.scalar_type(), at::kInt);
  std::vector<uint32_t> words;
  for (int64_t i = 0; i < packed.size(1); ++i) {
    words.push_back(static_cast<uint32_t>(packed[row][i].item<int32_t>()));
  }
  return words;
}

at::Tensor Row(const std::vector<int32_t>& values) {
  return at::tensor(values, at::kInt).reshape({1, -1});
}

// compressed-tensors' unpack_from_int32, written bit by bit: value i of a
// row is bits [i·b, i·b + b) of the little-endian word stream.
at::Tensor UnpackFromInt32(const at::Tensor& packed, int bits, int64_t cols) {
  const at::Tensor words = packed.contiguous();
  at::Tensor out = at::zeros({words.size(0), cols}, at::kLong);
  for (int64_t r = 0; r < words.size(0); ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      int64_t value = 0;
      for (int k = 0; k < bits; ++k) {
        const int64_t bit = c * bits + k;
        const auto word =
            static_cast<uint32_t>(words[r][bit / 32].item<int32_t>());
        value |= static_cast<int64_t>((word >> (bit % 32)) & 1u) << k;
      }
      out[r][c] = value;
    }
  }
  return out;
}

TEST(PackToInt32Test, PacksFourBitValuesLowNibbleFirst) {
  at::Tensor codes = at::arange(16, at::kInt).reshape({1, 16});
  at::Tensor packed = PackToInt32(codes, 4);
  EXPECT_EQ(packed.sizes(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(Words(packed), (std::vector<uint32_t>{0x76543210u, 0xFEDCBA98u}));
  // The second word's top bit set: stored as a negative int32.
  EXPECT_LT(packed[0][1].item<int32_t>(), 0);
  EXPECT_EQ(Words(PackToInt32(at::arange(8, at::kInt).reshape({1, 8}), 4)),
            (std::vector<uint32_t>{0x76543210u}));
}

TEST(PackToInt32Test, PacksEightBitValuesAndPadsAPartialWord) {
  at::Tensor packed = PackToInt32(Row({1, 2, 3, 4, 255}), 8);
  EXPECT_EQ(packed.sizes(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(Words(packed), (std::vector<uint32_t>{0x04030201u, 0x000000FFu}));
  // 9 four-bit values: one whole word and one holding a single value.
  at::Tensor nine = PackToInt32(Row({1, 2, 3, 4, 5, 6, 7, 8, 9}), 4);
  EXPECT_EQ(nine.sizes(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(Words(nine), (std::vector<uint32_t>{0x87654321u, 0x00000009u}));
}

TEST(PackToInt32Test, SplitsAValueAcrossTwoWords) {
  // 3 bits: value 10 occupies bits 30..32, two in word 0 and one in word 1.
  std::vector<int32_t> three(11, 0);
  three[10] = 7;
  at::Tensor packed = PackToInt32(Row(three), 3);
  EXPECT_EQ(packed.sizes(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(Words(packed), (std::vector<uint32_t>{0xC0000000u, 0x00000001u}));
  // 5 bits: value 6 = 0b10110 at bits 30..34 (low "10" in word 0, "101" in
  // word 1), value 7 = 0b00011 right after it, at bits 35..39.
  std::vector<int32_t> five(8, 0);
  five[0] = 31;
  five[6] = 22;
  five[7] = 3;
  at::Tensor five_packed = PackToInt32(Row(five), 5);
  EXPECT_EQ(five_packed.sizes(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(Words(five_packed),
            (std::vector<uint32_t>{0x8000001Fu, 0x00000005u | (3u << 3)}));
}

TEST(PackToInt32Test, RoundTripsEveryWidthAndRow) {
  at::manual_seed(3);
  for (int bits = 1; bits <= 8; ++bits) {
    for (int64_t cols : {1, 7, 32, 45}) {
      at::Tensor codes =
          at::randint(0, int64_t{1} << bits, {3, cols}, at::kInt);
      at::Tensor packed = PackToInt32(codes, bits);
      EXPECT_EQ(packed.size(1), (cols * bits + 31) / 32);
      EXPECT_TRUE(
          at::equal(UnpackFromInt32(packed, bits, cols), codes.to(at::kLong)))
          << bits << " bits, " << cols << " columns";
    }
  }
}

// The raw tensor of a reader as `type`, with its stored shape.
at::Tensor Raw(const io::SafetensorsReader& reader, const std::string& name,
               at::ScalarType type) {
  std::span<const std::byte> bytes = reader.RawBytes(name);
  for (const io::TensorInfo& info : reader.Tensors()) {
    if (info.name != name) continue;
    return at::from_blob(const_cast<std::byte*>(bytes.data()), info.shape,
                         at::TensorOptions().dtype(type))
        .clone();
  }
  ADD_FAILURE() << "no tensor " << name;
  return {};
}

contract::TensorScheme Scheme(int bits, bool symmetric,
                              contract::Granularity granularity,
                              int64_t group_size = 0, bool dynamic = false) {
  contract::TensorScheme scheme;
  scheme.enabled = true;
  scheme.bits = bits;
  scheme.symmetric = symmetric;
  scheme.granularity = granularity;
  scheme.group_size = group_size;
  scheme.dynamic = dynamic;
  return scheme;
}

struct QuantizedBlock {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  std::vector<QuantizedLinear> linears;
};

class CompressedTensorsExporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::ScratchDir("compressed_tensors");
    tiny_ = testing::MakeTinyLlama();
  }
  void TearDown() override { testing::RemoveScratch(dir_); }

  // Block `index` with every Linear fake-quantized by `config`.
  QuantizedBlock Quantize(int64_t index, const quant::QuantConfig& config) {
    std::unique_ptr<model::Block> block = tiny_.model->LoadBlock(index);
    QuantizedBlock out;
    for (const std::string& name : block->LinearNames()) {
      testing::FakeQuantized q =
          testing::FakeQuantizeWeight(block->linear(name).weight, config);
      block->linear(name).weight = q.weight;
      out.linears.push_back({block->prefix() + name, config, q.qparams});
    }
    out.tensors = block->NamedTensors();
    return out;
  }

  CompressedTensorsOptions Options(const contract::TensorScheme& weights,
                                   const contract::TensorScheme& activations) {
    CompressedTensorsOptions options;
    options.dir = dir_ / "compressed-tensors";
    options.source = dir_ / "absent.gguf";  // No tokenizer to carry.
    options.weights = weights;
    options.activations = activations;
    return options;
  }

  // Exports every block (quantized by `config`) and the residents.
  void Export(CompressedTensorsExporter& exporter,
              const quant::QuantConfig& config) {
    for (int64_t i = 0; i < tiny_.model->NumBlocks(); ++i) {
      QuantizedBlock block = Quantize(i, config);
      blocks_.push_back(block);
      exporter.AddBlock(block.tensors, block.linears, {});
    }
    exporter.AddResident(tiny_.model->NamedTensors());
    const std::vector<ShardFile> files = exporter.Finish();
    ASSERT_FALSE(files.empty());
    EXPECT_EQ(files[0].name, "model.safetensors");
    EXPECT_EQ(files.back().name, "config.json");
  }

  json QuantizationConfig() const {
    return json::parse(testing::ReadFile(
        dir_ / "compressed-tensors/config.json"))["quantization_config"];
  }

  fs::path dir_;
  testing::TinyModel tiny_;
  std::vector<QuantizedBlock> blocks_;
};

TEST_F(CompressedTensorsExporterTest, IntQuantizedWeightsTimesScaleAreExact) {
  quant::QuantConfig config;  // W8 symmetric per-channel, OS+ narrow grid.
  config.symmetric = true;
  config.granularity = quant::Granularity::kPerChannel;
  const contract::TensorScheme weights =
      Scheme(8, true, contract::Granularity::kPerChannel);
  const contract::TensorScheme activations =
      Scheme(8, true, contract::Granularity::kPerToken, 0, true);
  CompressedTensorsExporter exporter(tiny_.model->config(),
                                     Options(weights, activations));
  Export(exporter, config);

  auto reader = io::SafetensorsReader::OpenFile(
      dir_ / "compressed-tensors/model.safetensors");
  for (const QuantizedBlock& block : blocks_) {
    for (size_t i = 0; i < block.linears.size(); ++i) {
      const std::string& name = block.linears[i].name;
      SCOPED_TRACE(name);
      at::Tensor expected;
      for (const auto& [tensor_name, tensor] : block.tensors) {
        if (tensor_name == name + ".weight") expected = tensor;
      }
      const at::Tensor weight = Raw(*reader, name + ".weight", at::kChar);
      const at::Tensor scale = reader->LoadFloat(name + ".weight_scale");
      EXPECT_EQ(scale.sizes(), (std::vector<int64_t>{expected.size(0), 1}));
      EXPECT_TRUE(at::equal(weight.to(at::kFloat) * scale, expected));
      EXPECT_FALSE(reader->Contains(name + ".weight_zero_point"));
      EXPECT_FALSE(reader->Contains(name + ".input_scale"));
    }
    for (const auto& [name, tensor] : block.tensors) {
      if (name.ends_with("layernorm.weight")) {
        EXPECT_TRUE(at::equal(reader->LoadFloat(name), tensor)) << name;
      }
    }
  }
  EXPECT_TRUE(reader->Contains("model.embed_tokens.weight"));

  const json quantization = QuantizationConfig();
  EXPECT_EQ(quantization["quant_method"], "compressed-tensors");
  EXPECT_EQ(quantization["format"], "int-quantized");
  EXPECT_EQ(quantization["quantization_status"], "compressed");
  const json& group = quantization["config_groups"]["group_0"];
  EXPECT_EQ(group["format"], "int-quantized");
  EXPECT_EQ(group["weights"]["num_bits"], 8);
  EXPECT_EQ(group["weights"]["symmetric"], true);
  EXPECT_EQ(group["weights"]["strategy"], "channel");
  EXPECT_EQ(group["input_activations"]["dynamic"], true);
  EXPECT_EQ(group["input_activations"]["strategy"], "token");
  EXPECT_EQ(group["input_activations"]["num_bits"], 8);
  EXPECT_EQ(quantization["ignore"], json::array({"lm_head"}));
  EXPECT_EQ(exporter.Summary()["quantized_layers"], 14);
}

TEST_F(CompressedTensorsExporterTest, PackQuantizedAsymmetricUnpacksExactly) {
  quant::QuantConfig config;  // W4 asymmetric, groups of 16.
  config.bits = 4;
  config.granularity = quant::Granularity::kPerGroup;
  config.group_size = 16;
  const contract::TensorScheme weights =
      Scheme(4, false, contract::Granularity::kPerGroup, 16);
  const contract::TensorScheme activations{};  // A16.
  CompressedTensorsExporter exporter(tiny_.model->config(),
                                     Options(weights, activations));
  Export(exporter, config);

  auto reader = io::SafetensorsReader::OpenFile(
      dir_ / "compressed-tensors/model.safetensors");
  bool some_zero_point_nonzero = false;
  for (const QuantizedBlock& block : blocks_) {
    for (const auto& [tensor_name, expected] : block.tensors) {
      if (!tensor_name.ends_with("_proj.weight")) continue;
      const std::string name = tensor_name.substr(
          0, tensor_name.size() - std::string(".weight").size());
      SCOPED_TRACE(name);
      const int64_t out = expected.size(0), in = expected.size(1);
      const int64_t groups = in / 16;
      EXPECT_FALSE(reader->Contains(tensor_name));
      EXPECT_TRUE(at::equal(Raw(*reader, name + ".weight_shape", at::kLong),
                            at::tensor({out, in}, at::kLong)));
      const at::Tensor packed = Raw(*reader, name + ".weight_packed", at::kInt);
      EXPECT_EQ(packed.sizes(), (std::vector<int64_t>{out, in * 4 / 32}));
      const at::Tensor scale = reader->LoadFloat(name + ".weight_scale");
      EXPECT_EQ(scale.sizes(), (std::vector<int64_t>{out, groups}));
      // Zero points are packed along the output dimension.
      const at::Tensor zero_packed =
          Raw(*reader, name + ".weight_zero_point", at::kInt);
      EXPECT_EQ(zero_packed.sizes(),
                (std::vector<int64_t>{(out * 4 + 31) / 32, groups}));
      // compressed-tensors: stored values are signed codes + 2^(b-1).
      const at::Tensor q = UnpackFromInt32(packed, 4, in) - 8;
      const at::Tensor zero =
          UnpackFromInt32(zero_packed.t().contiguous(), 4, out).t() - 8;
      some_zero_point_nonzero |= zero.ne(0).any().item<bool>();
      const at::Tensor restored =
          ((q.to(at::kFloat).reshape({out, groups, 16}) -
            zero.to(at::kFloat).reshape({out, groups, 1})) *
           scale.reshape({out, groups, 1}))
              .reshape({out, in});
      EXPECT_TRUE(at::equal(restored, expected));
    }
  }
  EXPECT_TRUE(some_zero_point_nonzero);

  const json quantization = QuantizationConfig();
  EXPECT_EQ(quantization["format"], "pack-quantized");
  const json& group = quantization["config_groups"]["group_0"];
  EXPECT_EQ(group["weights"]["num_bits"], 4);
  EXPECT_EQ(group["weights"]["symmetric"], false);
  EXPECT_EQ(group["weights"]["strategy"], "group");
  EXPECT_EQ(group["weights"]["group_size"], 16);
  EXPECT_TRUE(group["input_activations"].is_null());
}

TEST_F(CompressedTensorsExporterTest, RefusesActivationsWithoutALinearForm) {
  const contract::TensorScheme weights =
      Scheme(8, true, contract::Granularity::kPerChannel);
  const contract::TensorScheme activations =
      Scheme(8, true, contract::Granularity::kPerToken, 0, true);
  CompressedTensorsExporter exporter(tiny_.model->config(),
                                     Options(weights, activations));
  quant::QuantConfig dynamic;
  dynamic.symmetric = true;
  dynamic.granularity = quant::Granularity::kPerToken;
  dynamic.dynamic = true;
  // An input transform that could not be folded into the weights.
  ActivationQuant shifted{"model.layers.0.attn_in",
                          dynamic,
                          std::nullopt,
                          at::full({32}, 0.25),
                          {}};
  EXPECT_THROW(exporter.AddBlock({}, {}, {shifted}), ExportError);
  // A quantizer inside attention feeds no Linear layer.
  ActivationQuant query{"model.layers.0.query", dynamic, std::nullopt, {}, {}};
  EXPECT_THROW(exporter.AddBlock({}, {}, {query}), ExportError);
  // The Linear inputs themselves are accepted.
  ActivationQuant attn_in{
      "model.layers.0.attn_in", dynamic, std::nullopt, {}, {}};
  EXPECT_NO_THROW(exporter.AddBlock({}, {}, {attn_in}));
}

}  // namespace
}  // namespace quantd::engine::exporting
