// OmniQuant against its neighbours on real SmolLM2-135M, through whole jobs
// (all 30 blocks; 8 WikiText-2 validation windows of 128 tokens to
// calibrate and train on; 2048 WikiText-2 test tokens in windows of 256 to
// evaluate, as pipeline/orderings_test.cc does). Label `long` (`make
// test-long`, not every CI run): its weight-only cases took 6.5 and 17
// minutes on two (loaded) cores.
//   * w4a16-g64 and w3a16-g64, the paper's 20 epochs: OmniQuant below RTN;
//     the distance to FP is printed (issue #10 hopes for 3 % at w4a16; see
//     the test);
//   * w4a4 (per-token activations), 2 epochs (20 would take hours here):
//     OmniQuant below SmoothQuant; OS+ is printed (see the test).
// Issue #10 states the weight-only orderings with groups of 128, but
// SmolLM2's hidden size (576) is not a multiple of 128 and the engine's
// per-group quantizer needs groups that divide the row (the reference pads
// the last group instead), so every method refuses -g128 on this model; 64
// is the largest power of two that divides 576 and 1536.
// Nothing is tuned to meet the orderings (the paper trains on 128 × 2048
// tokens); the figures are in docs/RESULTS.md.
#include <c10/util/StringUtil.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>

#include "worker/engine/eval/perplexity.h"
#include "worker/engine/io/model_loader.h"
#include "worker/engine/methods/registry.h"
#include "worker/engine/model/model_factory.h"
#include "worker/engine/pipeline/calibration_data.h"
#include "worker/engine/pipeline/pipeline.h"
#include "worker/engine/tokenizer/tokenizer.h"

namespace quantd::engine::pipeline {
namespace {

std::filesystem::path SourceDir() {
  const char* root = std::getenv("QUANTD_SOURCE_DIR");
  return root ? root : ".";
}

constexpr int64_t kCalibrationSamples = 8;
constexpr int64_t kCalibrationLen = 128;
constexpr int64_t kEvalLen = 256;
constexpr int64_t kEvalTokens = 2048;
constexpr int64_t kBatchSize = 8;

struct Outcome {
  ResultEvent result;
  double block_seconds = 0.0;
  int64_t blocks = 0;
};

// SmolLM2 with its calibration windows and evaluation ids, loaded once.
class SmolLm2 {
 public:
  SmolLm2() {
    path_ = SourceDir() / "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
    if (!std::filesystem::exists(path_)) {
      ADD_FAILURE() << path_ << " is missing: run scripts/bootstrap";
      return;
    }
    const std::filesystem::path data =
        SourceDir() / ".." / "shared" / "data" / "wikitext-2";
    io::LoadedModel opened = io::OpenModel(path_);
    config_ = opened.config;
    source_ =
        std::shared_ptr<const io::TensorSource>(std::move(opened.tensors));
    auto tokens = tokenizer::MakeTokenizer(opened.tokenizer);
    calibration_ = DrawWindows(
        TokenizeTextFile(data / "wiki.valid.tokens", *tokens, "calibration"),
        kCalibrationSamples, kCalibrationLen, 0, "calibration");
    evaluation_ =
        eval::TokenizeText(*tokens, eval::ReadText(data / "wiki.test.raw"));
  }

  Outcome Run(const std::string& method, nlohmann::json params,
              const std::string& scheme, bool with_fp) {
    if (source_ == nullptr) throw std::runtime_error(path_.string());
    JobSpec spec;
    spec.model_path = path_;
    spec.method = method;
    spec.scheme = quant::ParseScheme(scheme);
    params["batch_size"] = kBatchSize;
    spec.stages = methods::ParseRecipe(method, params, spec.scheme);
    spec.calibration.n_samples = kCalibrationSamples;
    spec.calibration.seq_len = kCalibrationLen;
    spec.evaluation.seq_len = kEvalLen;
    spec.evaluation.max_tokens = kEvalTokens;
    JobInputs inputs;
    inputs.config = config_;
    inputs.model = model::MakeModel(config_, source_, {});
    inputs.model_sha256 = path_.string();
    inputs.calibration = calibration_;
    inputs.evaluation = evaluation_;
    PipelineOptions options;
    options.out_dir = std::filesystem::temp_directory_path() /
                      c10::str("quantd_omniquant_orderings_", ::getpid(), "_",
                               method, "_", scheme);
    options.evaluate_fp = with_fp;
    options.export_artifacts = false;
    EventSink events(-1);
    PipelineResult result = RunPipeline(spec, inputs, options, events);
    std::filesystem::remove_all(options.out_dir);
    Outcome outcome{result.result, 0.0,
                    static_cast<int64_t>(result.blocks.size())};
    for (const BlockSummary& block : result.blocks) {
      outcome.block_seconds += block.seconds;
    }
    return outcome;
  }

 private:
  std::filesystem::path path_;
  io::ModelConfig config_;
  std::shared_ptr<const io::TensorSource> source_;
  at::Tensor calibration_;
  std::vector<int32_t> evaluation_;
};

SmolLm2& Smol() {
  static SmolLm2 model;
  return model;
}

double RunOmniQuant(const std::string& scheme, int64_t epochs) {
  Outcome omni = Smol().Run("omniquant", {{"epochs", epochs}}, scheme, false);
  std::printf(
      "SmolLM2 %s omniquant ppl %.3f; quantize %.1f s (%.2f s per block "
      "over %lld blocks)\n",
      scheme.c_str(), omni.result.quantized_value, omni.block_seconds,
      omni.block_seconds / static_cast<double>(omni.blocks),
      static_cast<long long>(omni.blocks));
  return omni.result.quantized_value;
}

// Measured (CPU, this budget): SmoothQuant 771.5, OS+ 461.3, OmniQuant
// 510.4 (FP 38.8). OmniQuant's block outputs are closer to the FP chain
// than OS+'s through block 10 (block 10 output MSE 7.4–8.2 vs 8.0 on four
// of the windows), but at block 11 the FP model writes a massive
// activation (about 2.5e4 in one channel) at the first position of every
// window, the attention sink; no method reproduces it from its quantized
// stream (OS+ reaches about 1.5e4, OmniQuant 0.4–0.9e4, RTN 0.5e4) and
// that one value dominates everything downstream. More epochs do not
// change this (10 epochs: better blocks 0–10, block 11 no better), so
// OmniQuant < OS+ is not asserted.
TEST(OmniQuantOrderingsTest, SmolLm2W4A4BelowSmoothQuant) {
  const double sq =
      Smol().Run("smoothquant", {}, "w4a4", false).result.quantized_value;
  const double osplus =
      Smol()
          .Run("osplus", {{"search_tokens", 256}}, "w4a4", false)
          .result.quantized_value;
  std::printf("SmolLM2 w4a4 smoothquant ppl %.3f osplus ppl %.3f\n", sq,
              osplus);
  const double omni = RunOmniQuant("w4a4", 2);
  EXPECT_LT(omni, sq);
}

// Measured (CPU, this budget): FP 38.774, RTN 51.008, OmniQuant 46.993
// (2 epochs: 50.872). The 3 % of issue #10 does not hold: 4-bit groups of
// 64 cost RTN +32 % on this 135M model (whose GGUF weights are themselves
// Q4_1, groups of 32, on another grid), and at 8 × 128 training tokens
// OmniQuant recovers a fifth of it. Asserted: OmniQuant below RTN.
TEST(OmniQuantOrderingsTest, SmolLm2W4A16G64BelowRtn) {
  const ResultEvent rtn = Smol().Run("rtn", {}, "w4a16-g64", true).result;
  std::printf("SmolLM2 w4a16-g64 fp ppl %.3f rtn ppl %.3f\n", rtn.fp_value,
              rtn.quantized_value);
  const double omni = RunOmniQuant("w4a16-g64", 20);
  std::printf("SmolLM2 w4a16-g64 omniquant %+.2f %% vs fp\n",
              100.0 * (omni / rtn.fp_value - 1.0));
  EXPECT_LT(omni, rtn.quantized_value);
}

TEST(OmniQuantOrderingsTest, SmolLm2W3A16G64BelowRtn) {
  const double rtn =
      Smol().Run("rtn", {}, "w3a16-g64", false).result.quantized_value;
  std::printf("SmolLM2 w3a16-g64 rtn ppl %.3f\n", rtn);
  const double omni = RunOmniQuant("w3a16-g64", 20);
  EXPECT_LT(omni, rtn);
}

}  // namespace
}  // namespace quantd::engine::pipeline
