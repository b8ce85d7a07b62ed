// OmniQuant through whole jobs on tiny random models: a job stopped after
// block 0 (as if killed mid-training) and resumed continues from block 1
// and ends with byte-identical weights and artifacts; every training epoch
// is reported as a progress event carrying its loss.
//
// (A methods test that drives the pipeline: the method's resume contract
// is only observable through it.)
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <set>

#include "contract/sha256.h"
#include "worker/engine/methods/registry.h"
#include "worker/engine/model/model_factory.h"
#include "worker/engine/model/test_models.h"
#include "worker/engine/pipeline/pipeline.h"

namespace quantd::engine::pipeline {
namespace {

class OmniQuantPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("quantd_omniquant_pipeline_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  JobSpec Spec(const nlohmann::json& params, const std::string& scheme,
               std::vector<std::string> formats) const {
    JobSpec spec;
    spec.model_path = root_ / "tiny.gguf";
    std::ofstream(spec.model_path) << "tiny";
    spec.method = "omniquant";
    spec.scheme = quant::ParseScheme(scheme);
    spec.stages = methods::ParseRecipe("omniquant", params, spec.scheme);
    spec.calibration.n_samples = 6;
    spec.calibration.seq_len = 12;
    spec.evaluation.seq_len = 12;
    spec.export_formats = std::move(formats);
    return spec;
  }

  // Runs a job in `dir`, events to dir/events.jsonl.
  PipelineResult RunIn(const std::filesystem::path& dir, const JobSpec& spec,
                       const io::ModelConfig& config, int64_t stop_after = -1) {
    std::filesystem::create_directories(dir);
    const int fd = ::open((dir / "events.jsonl").c_str(),
                          O_WRONLY | O_CREAT | O_APPEND, 0644);
    EventSink events(fd);
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
    PipelineOptions options;
    options.out_dir = dir;
    options.stop_after_block = stop_after;
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

  void ExpectResumeIsByteIdentical(const io::ModelConfig& config,
                                   const JobSpec& spec,
                                   const std::vector<std::string>& files) {
    const std::string arch(io::ArchitectureName(config.architecture));
    RunIn(root_ / arch / "whole", spec, config);
    PipelineResult stopped = RunIn(root_ / arch / "resumed", spec, config, 0);
    EXPECT_TRUE(stopped.stopped) << arch;
    PipelineResult resumed = RunIn(root_ / arch / "resumed", spec, config);
    EXPECT_FALSE(resumed.stopped) << arch;
    bool logged_resume = false;
    for (const nlohmann::json& event : Events(root_ / arch / "resumed")) {
      logged_resume =
          logged_resume || (event.at("type") == "log" &&
                            event.at("message").get<std::string>().find(
                                "resuming after block 0") != std::string::npos);
    }
    EXPECT_TRUE(logged_resume) << arch;
    for (const std::string& file : files) {
      EXPECT_EQ(contract::Sha256FileHex(root_ / arch / "whole" / file),
                contract::Sha256FileHex(root_ / arch / "resumed" / file))
          << arch << " " << file;
    }
  }

  std::filesystem::path root_;
};

TEST_F(OmniQuantPipelineTest, ResumedRunIsByteIdenticalLlama) {
  // Q, K and V quantized, so the Q/K pair trains too; two samples a step.
  const JobSpec spec = Spec(
      {{"batch_size", 3}, {"epochs", 2}, {"bmm", true}, {"train_batch", 2}},
      "w4a4", {"HF_SAFETENSORS", "PACKED_INT"});
  ExpectResumeIsByteIdentical(
      model::testing::TinyLlamaConfig(), spec,
      {"model/model.safetensors", "packed/quantized.safetensors",
       "packed/quant_config.json"});
}

TEST_F(OmniQuantPipelineTest, ResumedRunIsByteIdenticalOpt) {
  // Shifts at the LayerNorms and at v -> out_proj.
  const JobSpec spec =
      Spec({{"batch_size", 3}, {"epochs", 2}}, "w4a4", {"PACKED_INT"});
  ExpectResumeIsByteIdentical(
      model::testing::TinyOptConfig(true), spec,
      {"packed/quantized.safetensors", "packed/quant_config.json"});
}

TEST_F(OmniQuantPipelineTest, EveryEpochIsAProgressEventWithItsLoss) {
  const io::ModelConfig config = model::testing::TinyLlamaConfig();
  RunIn(root_ / "job", Spec({{"epochs", 3}}, "w4a16-g16", {"PACKED_INT"}),
        config);
  std::set<std::string> epochs;
  double last_fraction = 0.0;
  for (const nlohmann::json& event : Events(root_ / "job")) {
    if (event.at("type") != "progress") continue;
    EXPECT_GE(event.at("fraction").get<double>(), last_fraction);
    last_fraction = event.at("fraction").get<double>();
    for (const nlohmann::json& layer : event.at("layers")) {
      const std::string name = layer.at("name");
      if (name.find(".epoch_") == std::string::npos) continue;
      EXPECT_EQ(event.at("stage"), "quantize");
      EXPECT_TRUE(layer.at("loss_after").is_number()) << name;
      epochs.insert(name);
    }
  }
  EXPECT_EQ(epochs,
            (std::set<std::string>{"blocks.0.epoch_0", "blocks.0.epoch_1",
                                   "blocks.0.epoch_2", "blocks.1.epoch_0",
                                   "blocks.1.epoch_1", "blocks.1.epoch_2"}));
}

}  // namespace
}  // namespace quantd::engine::pipeline
