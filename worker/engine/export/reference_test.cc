// The exported artifacts read by the reference implementations
// (tests/reference/export/):
//   * safetensors written by the exporter load in Python `safetensors`
//     with every dtype and the metadata intact;
//   * a tiny LLaMA exported in HF layout loads with transformers'
//     AutoModelForCausalLM.from_pretrained and gives the engine's logits;
//   * its packed weights, unpacked with numpy following
//     docs/formats/packed-weights.md, equal the fake-quantized weights bit
//     for bit (4-bit nibbles with an odd row length included);
//   * the SVG plots parse as XML;
//   * the real SmolLM2 (GGUF), exported unmodified, loads in transformers
//     with the engine's logits and the original's perplexity.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "worker/engine/eval/perplexity.h"
#include "worker/engine/export/export_test_util.h"
#include "worker/engine/export/exporter.h"
#include "worker/engine/export/packed_exporter.h"
#include "worker/engine/export/safetensors_writer.h"
#include "worker/engine/model/model_factory.h"

namespace quantd::engine::exporting {
namespace {

namespace fs = std::filesystem;

int RunPython(const std::string& script, const std::string& arguments,
              const fs::path& log) {
  const std::string command =
      std::string(QUANTD_PYTHON) + " " +
      (testing::SourceDir() / "tests/reference/export" / script).string() +
      " " + arguments + " > " + log.string() + " 2>&1";
  return std::system(command.c_str());
}

template <typename T>
void WriteBinary(const fs::path& path, const T* data, size_t count) {
  std::ofstream file(path, std::ios::binary);
  file.write(reinterpret_cast<const char*>(data),
             static_cast<std::streamsize>(count * sizeof(T)));
}

void WriteTensor(const fs::path& path, const at::Tensor& tensor) {
  at::Tensor cpu = tensor.to(at::kCPU, at::kFloat).contiguous();
  WriteBinary(path, cpu.data_ptr<float>(), static_cast<size_t>(cpu.numel()));
}

// Tensors whose values the Python side recomputes from the same formulas.
std::vector<std::pair<std::string, at::Tensor>> RoundTripTensors() {
  return {{"f32", at::arange(15, at::kFloat).reshape({3, 5}) * 0.5},
          {"f16", (at::arange(4, at::kFloat) * 0.25).to(at::kHalf)},
          {"bf16", (at::arange(4, at::kFloat) - 2.0).to(at::kBFloat16)},
          {"i8", at::arange(-4, 4, at::kChar)},
          {"u8", at::arange(250, 256, at::kInt).to(at::kByte)},
          {"i32", at::arange(-3, 3, at::kInt) * 1000},
          {"i64", at::tensor({int64_t{1} << 40, int64_t{-5}}, at::kLong)},
          {"scalar", at::scalar_tensor(1.5, at::kFloat)}};
}

class ExportReferenceTest : public ::testing::Test {
 protected:
  // Writes every artifact, then runs the Python checks once (importing
  // transformers dominates their cost).
  static void SetUpTestSuite() {
    dir_ = testing::ScratchDir("reference");
    WriteSafetensors(dir_ / "roundtrip.safetensors", RoundTripTensors(),
                     {{"format", "pt"}, {"note", "quantd"}});
    WriteOddPacked();
    ExportTinyLlama();
    python_status_ = RunPython(
        "check_artifacts.py",
        "--dir " + dir_.string() + " --out " + (dir_ / "results.json").string(),
        dir_ / "python.log");
    if (python_status_ == 0) {
      std::ifstream file(dir_ / "results.json");
      results_ = nlohmann::json::parse(file);
    }
  }
  static void TearDownTestSuite() { testing::RemoveScratch(dir_); }

  // A 4-bit layer whose rows have an odd length (7): the format's padding
  // nibble.
  static void WriteOddPacked() {
    quant::QuantConfig config;
    config.bits = 4;
    config.symmetric = true;
    config.grid = quant::Grid::kOsFull;
    at::manual_seed(4);
    testing::FakeQuantized q =
        testing::FakeQuantizeWeight(at::randn({5, 7}), config);
    PackedExporter packed({dir_ / "odd", 1 << 20});
    packed.AddBlock({{"odd.weight", q.weight}}, {{"odd", config, q.qparams}},
                    {});
    packed.Finish({});
    WriteSafetensors(dir_ / "odd/expected.safetensors",
                     {{"odd.weight", q.weight}});
  }

  static void ExportTinyLlama() {
    testing::TinyModel tiny = testing::MakeTinyLlama();
    ExportOptions options;
    options.out_dir = dir_ / "tiny";
    Exporter exporter(options);
    exporter.Begin(testing::TinyJob(*tiny.model));
    for (int64_t i = 0; i < tiny.model->NumBlocks(); ++i) {
      exporter.AddBlock(testing::QuantizeTinyBlock(*tiny.model, i));
    }
    exporter.AddResident(tiny.model->NamedTensors());
    exporter.Finish({});
    at::Tensor ids = (at::arange(0, 40, at::kLong) * 7 % 64).reshape({2, 20});
    at::Tensor logits = testing::QuantizedTinyModel(*tiny.model)->Forward(ids);
    at::Tensor ids32 = ids.to(at::kInt).contiguous();
    WriteBinary(dir_ / "tiny/ids.bin", ids32.data_ptr<int32_t>(), 40);
    WriteTensor(dir_ / "tiny/logits.bin", logits);
  }

  void ExpectPythonRan() {
    ASSERT_EQ(python_status_, 0) << "check_artifacts.py failed:\n"
                                 << testing::ReadFile(dir_ / "python.log");
  }

  static inline fs::path dir_;
  static inline int python_status_ = -1;
  static inline nlohmann::json results_;
};

TEST_F(ExportReferenceTest, SafetensorsLoadInPython) {
  ExpectPythonRan();
  EXPECT_EQ(results_["safetensors"]["mismatches"], nlohmann::json::array());
  EXPECT_EQ(results_["safetensors"]["tensors"], 8);
  EXPECT_EQ(results_["safetensors"]["metadata"]["note"], "quantd");
}

TEST_F(ExportReferenceTest, TinyLlamaLoadsInTransformersWithEngineLogits) {
  ExpectPythonRan();
  const double diff = results_["hf"]["max_abs_logit_diff"].get<double>();
  std::cout << "tiny llama: max |logit diff| = " << diff
            << " (max |logit| = " << results_["hf"]["max_abs_logit"] << ")\n";
  EXPECT_EQ(results_["hf"]["architecture"], "LlamaForCausalLM");
  EXPECT_LT(diff, 1e-4);
}

TEST_F(ExportReferenceTest, PackedWeightsUnpackBitExactlyWithNumpy) {
  ExpectPythonRan();
  const nlohmann::json& packed = results_["packed"];
  EXPECT_EQ(packed["layers"], 14);
  EXPECT_EQ(packed["mismatches"], nlohmann::json::array());
  EXPECT_EQ(packed["odd"]["equal"], true);
  EXPECT_EQ(packed["odd"]["nibble_round_trip"], true);
}

TEST_F(ExportReferenceTest, PlotsAreWellFormedSvg) {
  ExpectPythonRan();
  EXPECT_EQ(results_["svg"]["parsed"], 4);
  EXPECT_EQ(results_["svg"]["errors"], nlohmann::json::array());
}

// Exports the model as loaded, block by block, in HF layout only.
void ExportUnmodified(const model::Model& model, const fs::path& gguf,
                      const fs::path& out_dir) {
  ExportOptions options;
  options.out_dir = out_dir;
  options.packed = false;
  Exporter exporter(options);
  JobInfo job;
  job.config = model.config();
  job.model_source = gguf;
  exporter.Begin(job);
  for (int64_t i = 0; i < model.NumBlocks(); ++i) {
    BlockExport block;
    block.index = i;
    block.tensors = model.LoadBlock(i)->NamedTensors();
    exporter.AddBlock(block);
  }
  exporter.AddResident(model.NamedTensors());
  exporter.Finish({});
}

// The engine's perplexity of the original model on 4 windows of 128 tokens
// from the start of the text; writes the ids and window 0's logits to dir.
double EnginePerplexity(const model::LoadedModel& loaded, const fs::path& text,
                        const fs::path& dir) {
  const std::vector<int32_t> tokens = eval::TokenizeText(
      *loaded.tokenizer, eval::ReadText(text).substr(0, 20000));
  eval::PerplexityOptions options;
  options.seq_len = 128;
  options.max_tokens = 4 * 128;
  options.batch_size = 2;
  const double ppl =
      eval::EvaluatePerplexity(*loaded.model, tokens, options).ppl;
  WriteBinary(dir / "ids.bin", tokens.data(), 4 * 128);
  at::Tensor window =
      at::tensor(std::vector<int32_t>(tokens.begin(), tokens.begin() + 128))
          .to(at::kLong)
          .reshape({1, 128});
  WriteTensor(dir / "logits.bin", loaded.model->Forward(window)[0]);
  return ppl;
}

// Acceptance: the exported model loads in transformers and its FP
// perplexity equals the original's.
TEST(SmolLm2ExportTest, ExportLoadsInTransformersWithTheOriginalPerplexity) {
  const fs::path gguf =
      testing::SourceDir() / "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
  const fs::path data = testing::SourceDir().parent_path() /
                        "shared/data/wikitext-2/wiki.test.raw";
  ASSERT_TRUE(fs::exists(gguf)) << gguf << " missing: run scripts/bootstrap";
  ASSERT_TRUE(fs::exists(data)) << data << " missing";
  const fs::path dir = testing::ScratchDir("smollm2");
  model::LoadedModel loaded = model::LoadModel(gguf, {});
  ASSERT_NE(loaded.tokenizer, nullptr);
  ExportUnmodified(*loaded.model, gguf, dir / "out");
  const double engine = EnginePerplexity(loaded, data, dir);

  ASSERT_EQ(
      RunPython("smollm2_export.py",
                "--model-dir " + (dir / "out/model").string() + " --gguf " +
                    gguf.string() + " --ids " + (dir / "ids.bin").string() +
                    " --seq-len 128 --logits " + (dir / "logits.bin").string() +
                    " --out " + (dir / "results.json").string(),
                dir / "python.log"),
      0)
      << testing::ReadFile(dir / "python.log");
  const nlohmann::json results =
      nlohmann::json::parse(testing::ReadFile(dir / "results.json"));
  const double exported = results["exported_ppl"].get<double>();
  const double original = results["original_ppl"].get<double>();
  std::cout << "SmolLM2: engine ppl " << engine << ", transformers ppl "
            << "exported " << exported << " / original GGUF " << original
            << ", max |logit diff| " << results["max_abs_logit_diff"]
            << " (max |logit| " << results["max_abs_logit"] << ")\n";
  EXPECT_EQ(results["architecture"], "LlamaForCausalLM");
  EXPECT_EQ(results["tensors_equal_to_gguf"], true);
  EXPECT_NEAR(exported, original, 1e-6 * original);
  EXPECT_NEAR(engine, exported, 1e-3 * exported);
  // Measured 5.7e-5 against logits up to 35 (fp32 accumulation order).
  EXPECT_LT(results["max_abs_logit_diff"].get<double>(), 1e-3);
  testing::RemoveScratch(dir);
}

}  // namespace
}  // namespace quantd::engine::exporting
