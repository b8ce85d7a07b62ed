#include "worker/engine/export/packed_exporter.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "worker/engine/export/export_error.h"
#include "worker/engine/export/export_test_util.h"
#include "worker/engine/export/nibble_packing.h"
#include "worker/engine/io/safetensors_reader.h"

namespace quantd::engine::exporting {
namespace {

namespace fs = std::filesystem;

// The raw tensor of a reader as its stored dtype.
at::Tensor Raw(const io::SafetensorsReader& reader, const std::string& name,
               at::ScalarType type) {
  std::span<const std::byte> bytes = reader.RawBytes(name);
  const io::TensorInfo* info = nullptr;
  for (const io::TensorInfo& candidate : reader.Tensors()) {
    if (candidate.name == name) info = &candidate;
  }
  return at::from_blob(const_cast<std::byte*>(bytes.data()), info->shape,
                       at::TensorOptions().dtype(type))
      .clone();
}

class PackedExporterTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::ScratchDir("packed"); }
  void TearDown() override { testing::RemoveScratch(dir_); }

  // Dequantizes a layer from the written file following the format doc.
  at::Tensor Dequantize(const io::SafetensorsReader& reader,
                        const nlohmann::json& layer) {
    const auto shape = layer["weight_shape"].get<std::vector<int64_t>>();
    const std::string dtype = layer["codes"]["dtype"];
    const bool is_signed = dtype == "int4" || dtype == "int8";
    at::Tensor codes;
    if (layer["codes"]["packing"] == "nibble") {
      codes = UnpackNibbles(Raw(reader, layer["codes"]["tensor"], at::kByte),
                            shape[1], is_signed);
    } else {
      codes = Raw(reader, layer["codes"]["tensor"],
                  is_signed ? at::kChar : at::kByte);
    }
    at::Tensor scales = Raw(reader, layer["scales"]["tensor"], at::kFloat);
    at::Tensor zero_points =
        Raw(reader, layer["zero_points"]["tensor"], at::kInt);
    const int64_t row_length =
        shape[0] * shape[1] / scales.numel();  // Elements per (Δ, zp).
    at::Tensor rows = codes.to(at::kFloat).reshape({-1, row_length});
    return ((rows - zero_points.to(at::kFloat).reshape({-1, 1})) *
            scales.reshape({-1, 1}))
        .reshape(shape);
  }

  fs::path dir_;
};

TEST_F(PackedExporterTest, EveryConfigDequantizesBitExactly) {
  at::manual_seed(2);
  const std::vector<std::string> linears = {
      "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
      "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
      "mlp.down_proj"};
  std::vector<std::pair<std::string, at::Tensor>> tensors = {
      {"blk.norm.weight", at::randn({32})}};
  std::vector<QuantizedLinear> layers;
  for (const std::string& linear : linears) {
    const quant::QuantConfig config = testing::TinyWeightConfig(linear);
    testing::FakeQuantized q =
        testing::FakeQuantizeWeight(at::randn({6, 32}) * 3.0 + 0.5, config);
    tensors.emplace_back("blk." + linear + ".weight", q.weight);
    layers.push_back({"blk." + linear, config, q.qparams});
  }
  PackedExporter exporter({dir_ / "packed", 1 << 20});
  exporter.AddBlock(tensors, layers, {});
  std::vector<ShardFile> files = exporter.Finish({{"method", "test"}});
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].name, "quantized.safetensors");
  EXPECT_EQ(files[1].name, "quant_config.json");

  nlohmann::json config = nlohmann::json::parse(
      testing::ReadFile(dir_ / "packed/quant_config.json"));
  EXPECT_EQ(config["method"], "test");
  EXPECT_EQ(config["format"], "quantd-packed");
  auto reader =
      io::SafetensorsReader::OpenFile(dir_ / "packed/quantized.safetensors");
  for (size_t i = 0; i < layers.size(); ++i) {
    const nlohmann::json& layer = config["layers"][layers[i].name];
    EXPECT_TRUE(layer["bit_exact"].get<bool>()) << layers[i].name;
    EXPECT_EQ(layer["dequantization_max_abs_error"].get<double>(), 0.0);
    EXPECT_TRUE(at::equal(Dequantize(*reader, layer), tensors[i + 1].second))
        << layers[i].name;
    EXPECT_FALSE(reader->Contains(layers[i].name + ".weight"));
  }
  const nlohmann::json& layers_json = config["layers"];
  EXPECT_EQ(layers_json["blk.self_attn.q_proj"]["codes"]["dtype"], "uint4");
  EXPECT_EQ(layers_json["blk.self_attn.q_proj"]["codes"]["shape"],
            (std::vector<int64_t>{6, 16}));
  EXPECT_EQ(layers_json["blk.self_attn.q_proj"]["scales"]["shape"],
            (std::vector<int64_t>{6, 2}));
  EXPECT_EQ(layers_json["blk.self_attn.k_proj"]["codes"]["dtype"], "int8");
  EXPECT_EQ(layers_json["blk.self_attn.v_proj"]["codes"]["dtype"], "int4");
  EXPECT_EQ(layers_json["blk.self_attn.v_proj"]["qmin"], -4);
  EXPECT_EQ(layers_json["blk.mlp.gate_proj"]["codes"]["dtype"], "uint8");
  EXPECT_EQ(layers_json["blk.mlp.gate_proj"]["scales"]["shape"],
            (std::vector<int64_t>{1}));
  EXPECT_EQ(layers_json["blk.mlp.up_proj"]["codes"]["dtype"], "int4");
  EXPECT_EQ(layers_json["blk.mlp.down_proj"]["codes"]["packing"], "nibble");
  EXPECT_TRUE(
      at::equal(reader->LoadFloat("blk.norm.weight"), tensors[0].second));
  EXPECT_EQ(config["float_tensor_count"], 1);
}

TEST_F(PackedExporterTest, StoresActivationParametersAndTransforms) {
  quant::QuantConfig config;
  quant::QParams qparams;
  qparams.scale = at::scalar_tensor(0.5, at::kFloat);
  qparams.zero_point = at::scalar_tensor(3.0, at::kFloat);
  qparams.qmin = 0;
  qparams.qmax = 255;
  ActivationQuant activation{"blk.attn_in", config, qparams,
                             at::full({4}, 0.25), at::full({4}, 2.0)};
  PackedExporter exporter({dir_ / "packed", 1 << 20});
  exporter.AddBlock({}, {}, {activation});
  exporter.Finish({});
  auto reader =
      io::SafetensorsReader::OpenFile(dir_ / "packed/quantized.safetensors");
  EXPECT_EQ(reader->LoadFloat("blk.attn_in.scales").item<float>(), 0.5f);
  EXPECT_EQ(Raw(*reader, "blk.attn_in.zero_points", at::kInt).item<int>(), 3);
  EXPECT_TRUE(at::equal(reader->LoadFloat("blk.attn_in.input_shift"),
                        at::full({4}, 0.25f)));
  EXPECT_TRUE(at::equal(reader->LoadFloat("blk.attn_in.input_scale"),
                        at::full({4}, 2.0f)));
  nlohmann::json json = nlohmann::json::parse(
      testing::ReadFile(dir_ / "packed/quant_config.json"));
  EXPECT_TRUE(json["activations"]["blk.attn_in"]["static"].get<bool>());
}

TEST_F(PackedExporterTest, ReportsWeightsThatAreNotOnTheGrid) {
  const quant::QuantConfig config = testing::TinyWeightConfig("mlp.up_proj");
  at::Tensor weight = at::randn({4, 32});
  testing::FakeQuantized q = testing::FakeQuantizeWeight(weight, config);
  PackedExporter exporter({dir_ / "packed", 1 << 20});
  // The FP weight instead of the fake-quantized one: codes are the same,
  // but the dequantized weight differs from the tensor given.
  exporter.AddBlock({{"l.weight", weight}}, {{"l", config, q.qparams}}, {});
  EXPECT_FALSE(exporter.layers()["l"]["bit_exact"].get<bool>());
  EXPECT_GT(
      exporter.layers()["l"]["dequantization_max_abs_error"].get<double>(),
      0.0);
}

TEST_F(PackedExporterTest, RejectsALayerWithoutItsWeight) {
  const quant::QuantConfig config = testing::TinyWeightConfig("mlp.up_proj");
  testing::FakeQuantized q =
      testing::FakeQuantizeWeight(at::randn({4, 32}), config);
  PackedExporter exporter({dir_ / "packed", 1 << 20});
  EXPECT_THROW(exporter.AddBlock({}, {{"missing", config, q.qparams}}, {}),
               ExportError);
  exporter.AddBlock({{"l.weight", q.weight}}, {{"l", config, q.qparams}}, {});
  EXPECT_THROW(exporter.AddBlock({{"l.weight", q.weight}},
                                 {{"l", config, q.qparams}}, {}),
               ExportError);
}

}  // namespace
}  // namespace quantd::engine::exporting
