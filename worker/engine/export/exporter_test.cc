#include "worker/engine/export/exporter.h"

#include <gtest/gtest.h>

#include <map>

#include "contract/sha256.h"
#include "worker/engine/export/export_error.h"
#include "worker/engine/export/export_test_util.h"
#include "worker/engine/model/model_factory.h"
#include "worker/engine/model/test_models.h"

namespace quantd::engine::exporting {
namespace {

namespace fs = std::filesystem;

class ExporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::ScratchDir("exporter");
    tiny_ = testing::MakeTinyLlama();
  }
  void TearDown() override { testing::RemoveScratch(dir_); }

  std::vector<Artifact> ExportTiny(ExportOptions options, bool with_fp) {
    options.out_dir = dir_ / "out";
    Exporter exporter(options);
    exporter.Begin(testing::TinyJob(*tiny_.model));
    // Blocks may arrive in any order (a resumed job).
    for (int64_t i = tiny_.model->NumBlocks() - 1; i >= 0; --i) {
      exporter.AddBlock(testing::QuantizeTinyBlock(*tiny_.model, i, with_fp));
    }
    exporter.AddResident(tiny_.model->NamedTensors());
    RunSummary summary;
    summary.metric = "perplexity";
    summary.fp_value = 10.0;
    summary.quantized_value = 12.0;
    summary.model = {{"path", "tiny-llama.gguf"}, {"blocks", 2}};
    summary.extra = {{"threads", 1}};
    return exporter.Finish(summary);
  }

  at::Tensor Ids() const {
    return at::arange(0, 24, at::kLong).reshape({2, 12});
  }

  fs::path dir_;
  testing::TinyModel tiny_;
};

TEST_F(ExporterTest, WritesEveryArtifactWithMatchingHashes) {
  std::vector<Artifact> artifacts = ExportTiny({}, false);
  std::vector<std::string> names;
  for (const Artifact& artifact : artifacts) {
    names.push_back(artifact.name);
    EXPECT_EQ(artifact.file.path, dir_ / "out" / artifact.name);
    EXPECT_EQ(artifact.file.sha256, contract::Sha256FileHex(artifact.file.path))
        << artifact.name;
    EXPECT_EQ(artifact.file.size_bytes, fs::file_size(artifact.file.path));
  }
  EXPECT_EQ(
      names,
      (std::vector<std::string>{
          "model/model.safetensors", "model/config.json",
          "packed/quantized.safetensors", "packed/quant_config.json",
          "plots/model.layers.1.attn_in.svg",
          "plots/model.layers.0.attn_in.svg", "plots/model.layers.0.mlp_in.svg",
          "plots/model.layers.1.mlp_in.svg", "report.json", "report.md",
          "manifest.json"}));
  EXPECT_EQ(artifacts[0].kind, "model");
  EXPECT_EQ(artifacts[2].kind, "packed");
  EXPECT_EQ(artifacts[4].kind, "plot");
  EXPECT_EQ(artifacts[8].kind, "report");
  EXPECT_EQ(artifacts[10].kind, "manifest");
  // Written once, in place: no staging folder, no provisional shard left.
  for (const auto& entry : fs::recursive_directory_iterator(dir_ / "out")) {
    EXPECT_NE(entry.path().filename().string()[0], '.') << entry.path();
  }

  nlohmann::json manifest =
      nlohmann::json::parse(testing::ReadFile(dir_ / "out/manifest.json"));
  ASSERT_EQ(manifest["outputs"].size(), artifacts.size() - 1);
  for (size_t i = 0; i + 1 < artifacts.size(); ++i) {
    EXPECT_EQ(manifest["outputs"][i]["sha256"], artifacts[i].file.sha256);
  }
  EXPECT_EQ(manifest["seed"], 42);
  EXPECT_EQ(manifest["engine_version"], "0.1.0-test");
}

TEST_F(ExporterTest, HfModelLoadsBackAndComputesTheQuantizedModel) {
  ExportTiny({}, false);
  nlohmann::json config =
      nlohmann::json::parse(testing::ReadFile(dir_ / "out/model/config.json"));
  EXPECT_EQ(config["architectures"][0], "LlamaForCausalLM");
  EXPECT_EQ(config["num_key_value_heads"], 2);
  EXPECT_EQ(config["tie_word_embeddings"], true);
  EXPECT_EQ(config["torch_dtype"], "float32");

  model::LoadedModel loaded = model::LoadModel(dir_ / "out/model", {});
  std::unique_ptr<model::Model> expected =
      testing::QuantizedTinyModel(*tiny_.model);
  EXPECT_TRUE(
      at::equal(loaded.model->Forward(Ids()), expected->Forward(Ids())));
}

TEST_F(ExporterTest, ReportDescribesTheJob) {
  ExportTiny({}, true);
  nlohmann::json report =
      nlohmann::json::parse(testing::ReadFile(dir_ / "out/report.json"));
  EXPECT_EQ(report["hf_model_weights"], "transformed_fp");
  EXPECT_EQ(report["result"]["quantized_value"], 12.0);
  EXPECT_EQ(report["threads"], 1);
  EXPECT_EQ(report["blocks"].size(), 2u);
  EXPECT_EQ(report["blocks"][1]["seconds"], 0.25);
  EXPECT_EQ(report["quantized_layers"].size(), 14u);
  const nlohmann::json& q =
      report["quantized_layers"]["model.layers.0.self_attn.q_proj"];
  EXPECT_EQ(q["config"]["description"],
            "int4 asym per_group(16) static minmax");
  EXPECT_TRUE(q["bit_exact"].get<bool>());
  EXPECT_EQ(report["activations"]["model.layers.1.attn_in"]["static"], true);
  EXPECT_EQ(report["activation_ranges"][0]["name"], "model.layers.1.attn_in");
  EXPECT_EQ(report["activation_ranges"].size(), 4u);
  EXPECT_EQ(report["artifacts"].size(), 8u);
  const std::string md = testing::ReadFile(dir_ / "out/report.md");
  EXPECT_NE(md.find("| Quantized | 12 (+20.00 %) |"), std::string::npos);

  // With FP tensors given, the HF model is the unquantized one.
  model::LoadedModel loaded = model::LoadModel(dir_ / "out/model", {});
  EXPECT_TRUE(
      at::equal(loaded.model->Forward(Ids()), tiny_.model->Forward(Ids())));
}

TEST_F(ExporterTest, ShardsLargeModelsWithAnIndex) {
  ExportOptions options;
  options.max_shard_bytes = 8 << 10;
  options.packed = false;
  options.plotted_sites = 0;
  std::vector<Artifact> artifacts = ExportTiny(options, false);
  EXPECT_TRUE(fs::exists(dir_ / "out/model/model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(dir_ / "out/model/model.safetensors"));
  EXPECT_FALSE(fs::exists(dir_ / "out/packed"));
  EXPECT_FALSE(fs::exists(dir_ / "out/plots"));
  model::LoadedModel loaded = model::LoadModel(dir_ / "out/model", {});
  EXPECT_TRUE(
      at::equal(loaded.model->Forward(Ids()),
                testing::QuantizedTinyModel(*tiny_.model)->Forward(Ids())));
}

TEST_F(ExporterTest, ExportIsDeterministic) {
  ExportTiny({}, false);
  const std::string model =
      testing::ReadFile(dir_ / "out/model/model.safetensors");
  const std::string packed =
      testing::ReadFile(dir_ / "out/packed/quantized.safetensors");
  const std::string config =
      testing::ReadFile(dir_ / "out/packed/quant_config.json");
  ExportTiny({}, false);
  EXPECT_EQ(testing::ReadFile(dir_ / "out/model/model.safetensors"), model);
  EXPECT_EQ(testing::ReadFile(dir_ / "out/packed/quantized.safetensors"),
            packed);
  EXPECT_EQ(testing::ReadFile(dir_ / "out/packed/quant_config.json"), config);
}

TEST_F(ExporterTest, RejectsCallsOutOfSequence) {
  ExportOptions options;
  options.out_dir = dir_ / "out";
  Exporter exporter(options);
  EXPECT_THROW(exporter.AddBlock({}), ExportError);
  exporter.Begin(testing::TinyJob(*tiny_.model));
  EXPECT_THROW(exporter.Begin(testing::TinyJob(*tiny_.model)), ExportError);
  BlockExport out_of_range;
  out_of_range.index = 2;
  EXPECT_THROW(exporter.AddBlock(out_of_range), ExportError);
  exporter.AddBlock(testing::QuantizeTinyBlock(*tiny_.model, 0));
  EXPECT_THROW(exporter.AddBlock(testing::QuantizeTinyBlock(*tiny_.model, 0)),
               ExportError);
  exporter.AddResident(tiny_.model->NamedTensors());
  EXPECT_THROW(exporter.Finish({}), ExportError);  // Block 1 is missing.
}

TEST_F(ExporterTest, KeepsTheConfigAndTokenizerOfAnHfSource) {
  const fs::path source = dir_ / "source";
  WriteFileAtomically(source / "config.json",
                      R"({"model_type": "llama", "torch_dtype": "float16",
                          "architectures": ["LlamaForCausalLM"]})");
  WriteFileAtomically(source / "tokenizer.json", "{\"model\": {}}");
  JobInfo job = testing::TinyJob(*tiny_.model);
  job.model_source = source;
  ExportOptions options;
  options.out_dir = dir_ / "out";
  options.packed = false;
  Exporter exporter(options);
  exporter.Begin(job);
  for (int64_t i = 0; i < 2; ++i) {
    exporter.AddBlock(testing::QuantizeTinyBlock(*tiny_.model, i));
  }
  // A separate head makes the export untie it.
  auto residents = tiny_.model->NamedTensors();
  residents.emplace_back("lm_head.weight", residents.front().second * 2.0);
  exporter.AddResident(residents);
  exporter.Finish({});
  const std::string text = testing::ReadFile(dir_ / "out/model/config.json");
  EXPECT_LT(text.find("model_type"), text.find("architectures"));
  nlohmann::json config = nlohmann::json::parse(text);
  EXPECT_EQ(config["torch_dtype"], "float32");
  EXPECT_EQ(config["tie_word_embeddings"], false);
  EXPECT_EQ(testing::ReadFile(dir_ / "out/model/tokenizer.json"),
            "{\"model\": {}}");
}

TEST_F(ExporterTest, RefusesAGgufLessEncoderWithoutConfig) {
  JobInfo job = testing::TinyJob(*tiny_.model);
  job.config = model::testing::TinyBertConfig();
  ExportOptions options;
  options.out_dir = dir_ / "out";
  {
    Exporter exporter(options);
    EXPECT_THROW(exporter.Begin(job), ExportError);
  }
  EXPECT_FALSE(fs::exists(dir_ / "out/model/model.safetensors"));
}

}  // namespace
}  // namespace quantd::engine::exporting
