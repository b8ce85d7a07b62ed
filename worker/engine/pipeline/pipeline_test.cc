// Whole jobs on tiny random models: every method runs end to end on every
// architecture with checkpoints, events and artifacts; a run stopped after
// a block and resumed produces byte-identical quantized weights; the
// checkpoint is a file per block plus the streams; a checkpoint of another
// spec, or an incomplete one, is refused.
#include "worker/engine/pipeline/pipeline.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "contract/sha256.h"
#include "worker/engine/io/safetensors_reader.h"
#include "worker/engine/methods/registry.h"
#include "worker/engine/model/model_factory.h"
#include "worker/engine/model/test_models.h"

namespace quantd::engine::pipeline {
namespace {

using ::testing::HasSubstr;

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("quantd_pipeline_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  JobSpec Spec(const std::string& method, const nlohmann::json& params,
               const std::string& scheme) const {
    JobSpec spec;
    // The manifest hashes the model file; the weights themselves are random.
    spec.model_path = root_ / "tiny.gguf";
    std::ofstream(spec.model_path) << "tiny";
    spec.method = method;
    spec.scheme = quant::ParseScheme(scheme);
    spec.stages = methods::ParseRecipe(method, params, spec.scheme);
    spec.calibration.n_samples = 6;
    spec.calibration.seq_len = 12;
    spec.evaluation.seq_len = 12;
    spec.export_formats = {"HF_SAFETENSORS", "PACKED_INT"};
    return spec;
  }

  static JobInputs Inputs(const io::ModelConfig& config) {
    JobInputs inputs;
    inputs.config = config;
    inputs.model =
        model::MakeModel(config, model::testing::RandomWeights(config, 5), {});
    inputs.model_sha256 = "tiny-model";
    at::Generator generator = at::detail::createCPUGenerator(9);
    inputs.calibration = at::randint(config.vocab_size, {6, 12}, generator);
    at::Tensor evaluation =
        at::randint(config.vocab_size, {62}, generator).to(at::kInt);
    inputs.evaluation.assign(evaluation.data_ptr<int32_t>(),
                             evaluation.data_ptr<int32_t>() + 62);
    return inputs;
  }

  // Runs a job in `dir` with events written to dir/events.jsonl.
  PipelineResult RunIn(const std::filesystem::path& dir, const JobSpec& spec,
                       const io::ModelConfig& config, int64_t stop_after = -1,
                       bool keep_checkpoint = false) {
    std::filesystem::create_directories(dir);
    int fd = ::open((dir / "events.jsonl").c_str(),
                    O_WRONLY | O_CREAT | O_APPEND, 0644);
    EventSink events(fd);
    JobInputs inputs = Inputs(config);
    PipelineOptions options;
    options.out_dir = dir;
    options.stop_after_block = stop_after;
    options.keep_checkpoint = keep_checkpoint;
    options.eval_windows_per_chunk = 2;
    options.engine_version = "test";
    PipelineResult result;
    try {
      result = RunPipeline(spec, inputs, options, events);
    } catch (...) {
      ::close(fd);
      throw;
    }
    ::close(fd);
    return result;
  }

  static std::vector<nlohmann::json> Events(const std::filesystem::path& dir) {
    std::ifstream in(dir / "events.jsonl");
    std::vector<nlohmann::json> events;
    for (std::string line; std::getline(in, line);) {
      events.push_back(nlohmann::json::parse(line));
    }
    return events;
  }

  std::filesystem::path root_;
};

TEST_F(PipelineTest, EveryMethodRunsOnEveryArchitecture) {
  const io::ModelConfig configs[] = {model::testing::TinyLlamaConfig(),
                                     model::testing::TinyOptConfig(true),
                                     model::testing::TinyBertConfig()};
  for (const io::ModelConfig& config : configs) {
    for (const methods::MethodInfo& info : methods::Methods()) {
      nlohmann::json params = {{"batch_size", 4}};
      if (info.name == "osplus") params["search_tokens"] = 16;
      const std::string what =
          std::string(io::ArchitectureName(config.architecture)) + " " +
          info.name;
      std::filesystem::path dir = root_ / what;
      // awq is weight-only and refuses quantized activations.
      JobSpec spec =
          Spec(info.name, params, info.name == "awq" ? "w6a16" : "w6a6-pt");
      // config.json is written for LLaMA-family models from a GGUF only.
      const bool hf = config.architecture == io::Architecture::kLlama;
      if (!hf) spec.export_formats = {"PACKED_INT"};
      PipelineResult result = RunIn(dir, spec, config);
      EXPECT_FALSE(result.stopped) << what;
      EXPECT_TRUE(std::isfinite(result.result.quantized_value)) << what;
      EXPECT_EQ(result.result.eval_tokens, 60) << what;
      EXPECT_EQ(result.blocks.size(), 2u) << what;
      EXPECT_TRUE(std::filesystem::exists(dir / "report.json")) << what;
      EXPECT_TRUE(std::filesystem::exists(dir / "manifest.json")) << what;
      EXPECT_TRUE(std::filesystem::exists(dir / "packed/quant_config.json"))
          << what;
      EXPECT_EQ(std::filesystem::exists(dir / "model/model.safetensors"), hf)
          << what;
      std::vector<std::string> types;
      for (const nlohmann::json& event : Events(dir)) {
        types.push_back(event.at("type"));
      }
      EXPECT_THAT(types, ::testing::Contains("checkpoint")) << what;
      EXPECT_THAT(types, ::testing::Contains("artifact")) << what;
      EXPECT_EQ(types.back(), "result") << what;
    }
  }
}

// A job with an accuracy target runs its attempts in order, evaluates FP
// once, exports the first attempt within the bound and reports every
// attempt; one that no attempt meets throws after its result event.
TEST_F(PipelineTest, ATargetStopsAtTheFirstAttemptThatMeetsIt) {
  const io::ModelConfig config = model::testing::TinyLlamaConfig();
  const nlohmann::json params = {{"batch_size", 4}};
  const JobSpec coarse = Spec("rtn", params, "w3a16");
  const JobSpec fine = Spec("rtn", params, "w8a16");
  const ResultEvent coarse_alone =
      RunIn(root_ / "coarse", coarse, config).result;
  const ResultEvent fine_alone = RunIn(root_ / "fine", fine, config).result;
  const double fp = coarse_alone.fp_value;
  const double coarse_increase = coarse_alone.quantized_value / fp - 1.0;
  const double fine_increase = fine_alone.quantized_value / fp - 1.0;
  ASSERT_LT(fine_increase, coarse_increase);

  JobSpec spec = coarse;
  spec.target = TargetSettings{
      (coarse_increase + fine_increase) / 2.0,
      0.0,
      {Candidate{"rtn", fine.stages, fine.scheme},
       Candidate{"gptq", methods::ParseRecipe("gptq", params, fine.scheme),
                 fine.scheme}}};
  const std::filesystem::path dir = root_ / "target";
  const PipelineResult met = RunIn(dir, spec, config);
  ASSERT_EQ(met.result.attempts.size(), 2u);
  EXPECT_EQ(met.result.attempts[0].scheme, "w3a16");
  EXPECT_FALSE(met.result.attempts[0].met_target);
  EXPECT_EQ(met.result.attempts[0].quantized_value,
            coarse_alone.quantized_value);
  EXPECT_EQ(met.result.attempts[1].scheme, "w8a16");
  EXPECT_TRUE(met.result.attempts[1].met_target);
  EXPECT_EQ(met.result.quantized_value, fine_alone.quantized_value);
  EXPECT_EQ(met.result.fp_value, fp);
  EXPECT_FALSE(met.artifacts.empty());
  EXPECT_FALSE(std::filesystem::exists(dir / "checkpoint"));
  int results = 0;
  double fraction = 0.0;
  for (const nlohmann::json& event : Events(dir)) {
    if (event["type"] == "progress") {
      EXPECT_GE(event["fraction"].get<double>(), fraction) << event.dump();
      fraction = event["fraction"];
      EXPECT_LE(fraction, 2.0 / 3.0);  // Two attempts of three.
    }
    if (event["type"] == "result") {
      ++results;
      ASSERT_EQ(event["attempts"].size(), 2u);
      EXPECT_EQ(event["attempts"][1]["met_target"], true);
    }
    // The third candidate never ran.
    if (event["type"] == "log") {
      EXPECT_THAT(event["message"].get<std::string>(),
                  ::testing::Not(HasSubstr("attempt 3")));
    }
  }
  EXPECT_EQ(results, 1);
  std::ifstream report(dir / "report.json");
  const nlohmann::json parsed = nlohmann::json::parse(report);
  EXPECT_NE(parsed.dump().find("\"attempts\""), std::string::npos);

  // Out of reach: every attempt reported, nothing exported. GPTQ at w8a16
  // (act order, its default) lands below FP on this tiny model, which
  // meets any bound; at w3a16 it does not.
  spec.target->max_perplexity_increase = 1e-9;
  spec.target->fallbacks[1] =
      Candidate{"gptq", methods::ParseRecipe("gptq", params, coarse.scheme),
                coarse.scheme};
  const std::filesystem::path missed = root_ / "missed";
  EXPECT_THROW(RunIn(missed, spec, config), TargetNotMet);
  std::vector<std::string> types;
  for (const nlohmann::json& event : Events(missed)) {
    types.push_back(event["type"]);
    if (event["type"] == "result") {
      ASSERT_EQ(event["attempts"].size(), 3u);
      for (const nlohmann::json& attempt : event["attempts"]) {
        EXPECT_EQ(attempt["met_target"], false);
      }
      EXPECT_EQ(event["attempts"][2]["method"], "gptq");
    }
  }
  EXPECT_THAT(types, ::testing::Contains("result"));
  EXPECT_THAT(types, ::testing::Not(::testing::Contains("artifact")));
}

TEST_F(PipelineTest, ResumedRunIsByteIdentical) {
  const io::ModelConfig config = model::testing::TinyLlamaConfig();
  JobSpec spec = Spec(
      "osplus", {{"batch_size", 3}, {"search_tokens", 24}, {"up_down", true}},
      "w4a4");
  RunIn(root_ / "whole", spec, config);
  PipelineResult stopped = RunIn(root_ / "resumed", spec, config, 0);
  EXPECT_TRUE(stopped.stopped);
  EXPECT_FALSE(std::filesystem::exists(root_ / "resumed/report.json"));
  PipelineResult resumed = RunIn(root_ / "resumed", spec, config);
  EXPECT_FALSE(resumed.stopped);
  bool logged_resume = false;
  for (const nlohmann::json& event : Events(root_ / "resumed")) {
    if (event.at("type") == "log" &&
        event.at("message").get<std::string>().find("resuming after block 0") !=
            std::string::npos) {
      logged_resume = true;
    }
  }
  EXPECT_TRUE(logged_resume);
  for (const char* file :
       {"model/model.safetensors", "packed/quantized.safetensors",
        "packed/quant_config.json"}) {
    EXPECT_EQ(contract::Sha256FileHex(root_ / "whole" / file),
              contract::Sha256FileHex(root_ / "resumed" / file))
        << file;
  }
}

// RTN with dynamic activations reads no calibration data: no stream is
// embedded or kept (the streams file commits blocks only), the report has
// no activation ranges, a resumed run is byte-identical, and the weights
// equal a run that streams the data (RTN with static activations rounds
// the same weights).
TEST_F(PipelineTest, DataFreeRtnKeepsNoStreamAndResumes) {
  const io::ModelConfig config = model::testing::TinyLlamaConfig();
  JobSpec spec = Spec("rtn", {{"batch_size", 3}}, "w8a8");
  ASSERT_TRUE(spec.scheme.activation.dynamic);
  RunIn(root_ / "whole", spec, config, -1, /*keep_checkpoint=*/true);
  std::unique_ptr<io::SafetensorsReader> streams =
      io::SafetensorsReader::OpenFile(root_ /
                                      "whole/checkpoint/streams.safetensors");
  EXPECT_FALSE(streams->Contains("stream.quantized"));
  EXPECT_FALSE(streams->Contains("stream.fp"));
  const nlohmann::json report = nlohmann::json::parse(
      std::ifstream(root_ / "whole/report.json"), nullptr, false);
  EXPECT_TRUE(report.at("activation_ranges").empty());

  PipelineResult stopped = RunIn(root_ / "resumed", spec, config, 0);
  EXPECT_TRUE(stopped.stopped);
  PipelineResult resumed = RunIn(root_ / "resumed", spec, config);
  EXPECT_FALSE(resumed.stopped);
  EXPECT_EQ(contract::Sha256FileHex(root_ / "whole/model/model.safetensors"),
            contract::Sha256FileHex(root_ / "resumed/model/model.safetensors"));

  // The same weights' scheme with static per-tensor activations.
  JobSpec streamed = spec;
  streamed.scheme.activation = quant::ParseScheme("w8a8-pt").activation;
  streamed.stages =
      methods::ParseRecipe("rtn", {{"batch_size", 3}}, streamed.scheme);
  RunIn(root_ / "streamed", streamed, config);
  const nlohmann::json streamed_report = nlohmann::json::parse(
      std::ifstream(root_ / "streamed/report.json"), nullptr, false);
  EXPECT_FALSE(streamed_report.at("activation_ranges").empty());
  std::unique_ptr<io::SafetensorsReader> free_packed =
      io::SafetensorsReader::OpenFile(root_ /
                                      "whole/packed/quantized.safetensors");
  std::unique_ptr<io::SafetensorsReader> streamed_packed =
      io::SafetensorsReader::OpenFile(root_ /
                                      "streamed/packed/quantized.safetensors");
  int compared = 0;
  for (const io::TensorInfo& info : free_packed->Tensors()) {
    const std::string& name = info.name;
    if (!name.ends_with(".qweight") && !name.ends_with(".scales")) continue;
    ASSERT_TRUE(streamed_packed->Contains(name)) << name;
    std::span<const std::byte> a = free_packed->RawBytes(name);
    std::span<const std::byte> b = streamed_packed->RawBytes(name);
    EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end())) << name;
    ++compared;
  }
  EXPECT_EQ(compared, 2 * 2 * 7);  // Two blocks of seven Linears.
}

// Each finished block is a file of its own, written once; the streams file
// is replaced and names the blocks it commits; a resumed run leaves the
// earlier block files as they were; the checkpoint goes after success
// unless kept; temporaries of a killed run are removed at start.
TEST_F(PipelineTest, CheckpointIsIncrementalPerBlock) {
  const io::ModelConfig config = model::testing::TinyLlamaConfig();
  const JobSpec spec = Spec("rtn", {{"batch_size", 3}}, "w8a8");
  const std::filesystem::path dir = root_ / "job";
  RunIn(dir, spec, config, 0);
  const std::filesystem::path block0 =
      dir / "checkpoint/block-00000.safetensors";
  ASSERT_TRUE(std::filesystem::exists(block0));
  ASSERT_TRUE(std::filesystem::exists(dir / "checkpoint/streams.safetensors"));
  EXPECT_FALSE(
      std::filesystem::exists(dir / "checkpoint/block-00001.safetensors"));
  const std::string block0_sha = contract::Sha256FileHex(block0);
  // RTN transforms no weight: each quantized weight is recomputed from its
  // FP weight, and that is read from the model, so neither is stored.
  const nlohmann::json description = nlohmann::json::parse(
      io::SafetensorsReader::OpenFile(block0)->metadata().at("block"));
  EXPECT_EQ(description.at("derived").size(), 7u);
  EXPECT_EQ(description.at("fp_weight_from_model").size(), 7u);
  EXPECT_FALSE(io::SafetensorsReader::OpenFile(block0)->Contains(
      "model.layers.0.mlp.up_proj.weight"));

  std::vector<nlohmann::json> parts;
  for (const nlohmann::json& event : Events(dir)) {
    if (event.at("type") == "checkpoint") parts.push_back(event);
  }
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].at("part"), "block");
  EXPECT_EQ(parts[0].at("name"), "checkpoint/block-00000.safetensors");
  EXPECT_EQ(parts[0].at("sha256"), block0_sha);
  EXPECT_EQ(parts[1].at("part"), "streams");
  EXPECT_EQ(parts[1].at("name"), "checkpoint/streams.safetensors");
  EXPECT_EQ(parts[1].at("block_index"), 0);

  // A killed run's temporaries, then the rest of the job, checkpoint kept.
  std::filesystem::create_directories(dir / "model");
  std::ofstream(dir / "model/.model.safetensors.4242.tmp") << "partial";
  std::ofstream(dir / "checkpoint/.streams.safetensors.4242.tmp") << "partial";
  RunIn(dir, spec, config, -1, /*keep_checkpoint=*/true);
  EXPECT_FALSE(
      std::filesystem::exists(dir / "model/.model.safetensors.4242.tmp"));
  EXPECT_FALSE(std::filesystem::exists(
      dir / "checkpoint/.streams.safetensors.4242.tmp"));
  const std::filesystem::path block1 =
      dir / "checkpoint/block-00001.safetensors";
  ASSERT_TRUE(std::filesystem::exists(block1));
  EXPECT_EQ(contract::Sha256FileHex(block0), block0_sha);
  // Blocks of one shape cost the same bytes, whatever their index.
  EXPECT_EQ(std::filesystem::file_size(block0),
            std::filesystem::file_size(block1));
  nlohmann::json report =
      nlohmann::json::parse(std::ifstream(dir / "report.json"));
  EXPECT_GT(report["resources"]["peak_host_memory_bytes"].get<double>(), 0);

  // The same job again finds the kept checkpoint complete, and this time
  // removes it.
  RunIn(dir, spec, config);
  EXPECT_FALSE(std::filesystem::exists(dir / "checkpoint"));
}

TEST_F(PipelineTest, RefusesAnIncompleteCheckpoint) {
  const io::ModelConfig config = model::testing::TinyLlamaConfig();
  const JobSpec spec = Spec("rtn", {{"batch_size", 3}}, "w8a8");
  RunIn(root_ / "job", spec, config, 0);
  std::filesystem::resize_file(root_ / "job/checkpoint/block-00000.safetensors",
                               100);
  try {
    RunIn(root_ / "job", spec, config);
    ADD_FAILURE() << "truncated block file accepted";
  } catch (const std::runtime_error& error) {
    EXPECT_THAT(error.what(), HasSubstr("block-00000.safetensors"));
  }
}

TEST_F(PipelineTest, RefusesACheckpointOfAnotherSpec) {
  const io::ModelConfig config = model::testing::TinyOptConfig(true);
  RunIn(root_ / "job", Spec("rtn", {{"batch_size", 3}}, "w8a8"), config, 0);
  try {
    RunIn(root_ / "job", Spec("rtn", {{"batch_size", 2}}, "w8a8"), config);
    ADD_FAILURE() << "checkpoint of another spec accepted";
  } catch (const CheckpointMismatch& error) {
    EXPECT_THAT(error.what(), HasSubstr("another job spec"));
  }
}

}  // namespace
}  // namespace quantd::engine::pipeline
