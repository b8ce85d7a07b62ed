// JobSpec parsing: proto3 JSON forms are accepted (enum names and numbers,
// 64-bit integers as strings), defaults fill in, and every invalid input is
// rejected before any work with the dotted field named.
#include "worker/engine/pipeline/job_spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace quantd::engine::pipeline {
namespace {

using ::testing::HasSubstr;

class JobSpecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("quantd_job_spec_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    for (const char* name :
         {"model.gguf", "wiki.valid.tokens", "wiki.test.raw", "other.txt"}) {
      std::ofstream(dir_ / name) << "text";
    }
    defaults_.data_dir = dir_;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  nlohmann::json Base() const {
    return {{"model", {{"uri", "file://" + (dir_ / "model.gguf").string()}}},
            {"method", "osplus"},
            {"scheme", {{"preset", "w4a4"}}}};
  }

  // "field | message", or "ok".
  std::string ErrorOf(const nlohmann::json& spec) const {
    try {
      ParseJobSpec(spec, defaults_);
    } catch (const SpecError& error) {
      return error.field() + " | " + error.what();
    }
    return "ok";
  }

  std::filesystem::path dir_;
  SpecDefaults defaults_;
};

TEST_F(JobSpecTest, ParsesAMinimalSpecWithDefaults) {
  JobSpec spec = ParseJobSpec(Base(), defaults_);
  EXPECT_EQ(spec.method, "osplus");
  EXPECT_EQ(spec.scheme.name, "w4a4");
  EXPECT_EQ(spec.calibration.n_samples, 128);
  EXPECT_EQ(spec.calibration.dataset, dir_ / "wiki.valid.tokens");
  EXPECT_EQ(spec.evaluation.dataset, dir_ / "wiki.test.raw");
  EXPECT_EQ(spec.stages.at(0).params.Integer("search_tokens"), 4096);
  EXPECT_THAT(spec.export_formats,
              ::testing::ElementsAre("HF_SAFETENSORS", "PACKED_INT"));
}

TEST_F(JobSpecTest, AcceptsProtoJsonForms) {
  nlohmann::json spec = Base();
  spec["calibration"] = {
      {"seed", "18446744073709551615"}, {"n_samples", "16"}, {"seq_len", 64}};
  spec["scheme"]["activations"] = {{"granularity", "GRANULARITY_PER_GROUP"},
                                   {"group_size", 16}};
  spec["scheme"]["weights"] = {
      {"granularity", 4}, {"group_size", 16}, {"bits", 3}};
  spec["export_formats"] = {"EXPORT_FORMAT_PACKED_INT"};
  spec["priority"] = 5;
  spec["labels"] = {{"team", "a"}};
  JobSpec parsed = ParseJobSpec(spec, defaults_);
  EXPECT_EQ(parsed.calibration.seed, 18446744073709551615ull);
  EXPECT_EQ(parsed.calibration.n_samples, 16);
  EXPECT_EQ(parsed.scheme.activation.granularity,
            quant::Granularity::kPerGroup);
  EXPECT_TRUE(parsed.scheme.activation.dynamic);
  EXPECT_EQ(parsed.scheme.weight.bits, 3);
  EXPECT_EQ(parsed.scheme.weight.group_size, 16);
  EXPECT_THAT(parsed.export_formats, ::testing::ElementsAre("PACKED_INT"));
}

TEST_F(JobSpecTest, ParsesARecipeWithPerStageParameters) {
  nlohmann::json document = Base();
  document["method"] = "osplus+gptq";
  document["scheme"] = {{"preset", "w8a8"}};
  document["method_params"] = {{"batch_size", 4},
                               {"osplus", {{"up_down", true}}},
                               {"gptq", {{"act_order", true}}}};
  const JobSpec spec = ParseJobSpec(document, defaults_);
  ASSERT_EQ(spec.stages.size(), 2u);
  EXPECT_EQ(spec.stages[0].info->name, "osplus");
  EXPECT_TRUE(spec.stages[0].params.Bool("up_down"));
  EXPECT_EQ(spec.stages[1].info->name, "gptq");
  EXPECT_TRUE(spec.stages[1].params.Bool("act_order"));
  EXPECT_EQ(spec.stages[1].params.Integer("batch_size"), 4);
  // The canonical spec (the checkpoints' identity) keeps each stage's.
  const nlohmann::json canonical = CanonicalSpec(spec);
  EXPECT_EQ(canonical["method_params"]["gptq"]["act_order"], true);
  EXPECT_EQ(canonical["method_params"]["osplus"]["batch_size"], 4);

  document["method"] = "gptq+osplus";
  EXPECT_THAT(ErrorOf(document),
              HasSubstr("method | method: 'gptq' rounds the weights"));
  document["method"] = "osplus+gptq";
  document["method_params"] = {{"gptq", {{"block_size", 0}}}};
  EXPECT_THAT(ErrorOf(document), HasSubstr("method_params.gptq.block_size | "));
}

TEST_F(JobSpecTest, ParsesATargetWithItsFallbacks) {
  nlohmann::json document = Base();
  document["scheme"] = {{"preset", "w8a8"}};
  document["method"] = "rtn";
  document["target"] = {
      {"max_perplexity_increase", 0.02},
      {"fallbacks",
       {{{"method", "smoothquant"}},
        {{"method", "osplus+gptq"},
         {"scheme", {{"preset", "w6a6"}}},
         {"method_params", {{"gptq", {{"act_order", true}}}}}}}}};
  const JobSpec spec = ParseJobSpec(document, defaults_);
  ASSERT_TRUE(spec.target.has_value());
  EXPECT_EQ(spec.target->max_perplexity_increase, 0.02);
  ASSERT_EQ(spec.target->fallbacks.size(), 2u);
  EXPECT_EQ(spec.target->fallbacks[0].scheme.name, "w8a8");  // The job's.
  EXPECT_EQ(spec.target->fallbacks[1].scheme.name, "w6a6");
  EXPECT_TRUE(spec.target->fallbacks[1].stages.at(1).params.Bool("act_order"));
  const std::vector<JobSpec> attempts = AttemptSpecs(spec);
  ASSERT_EQ(attempts.size(), 3u);
  EXPECT_EQ(attempts[0].method, "rtn");
  EXPECT_EQ(attempts[2].method, "osplus+gptq");
  EXPECT_EQ(attempts[2].scheme.name, "w6a6");
  for (const JobSpec& attempt : attempts) EXPECT_FALSE(attempt.target);

  auto error = [&](nlohmann::json target) {
    nlohmann::json bad = document;
    bad["target"] = std::move(target);
    return ErrorOf(bad);
  };
  EXPECT_THAT(error({{"fallbacks", {{{"method", "gptq+rtn"}}}}}),
              HasSubstr("target.fallbacks[0].method | "));
  EXPECT_THAT(
      error({{"fallbacks",
              {{{"method", "rtn"}, {"scheme", {{"preset", "w9a9"}}}}}}}),
      HasSubstr("target.fallbacks[0].scheme.preset | "));
  EXPECT_THAT(
      error(
          {{"fallbacks",
            {{{"method", "smoothquant"}, {"method_params", {{"alpha", 2}}}}}}}),
      HasSubstr("target.fallbacks[0].method_params.alpha | "));
  EXPECT_THAT(error({{"fallbacks", {{{"metod", "rtn"}}}}}),
              HasSubstr("target.fallbacks[0].metod | "));
  EXPECT_THAT(error({{"max_perplexity_increase", "2%"}}),
              HasSubstr("target.max_perplexity_increase | "));
}

TEST_F(JobSpecTest, NamesTheFieldOfEveryError) {
  nlohmann::json spec = Base();
  spec["scheme"]["weights"] = {{"bits", 12}};
  EXPECT_EQ(ErrorOf(spec),
            "scheme.weights.bits | scheme.weights.bits: must be in 2..8, got "
            "12");
  spec = Base();
  spec["method"] = "no_such_method";
  EXPECT_THAT(ErrorOf(spec), HasSubstr("method | method: unknown method "
                                       "'no_such_method'"));
  spec = Base();
  spec["method_params"] = {{"serch_tokens", 5}};
  EXPECT_THAT(ErrorOf(spec), HasSubstr("method_params.serch_tokens | "));
  spec = Base();
  spec["method"] = "smoothquant";
  spec["method_params"] = {{"alpha", 2}};
  EXPECT_THAT(ErrorOf(spec), HasSubstr("method_params.alpha: must be in"));
  spec = Base();
  spec["scheme"] = {{"preset", "w9a8"}};
  EXPECT_THAT(ErrorOf(spec), HasSubstr("scheme.preset | "));
  spec = Base();
  spec["scheme"] = nlohmann::json::object();
  EXPECT_THAT(ErrorOf(spec), HasSubstr("scheme | scheme: give a preset"));
  spec = Base();
  spec["modle"] = 1;
  EXPECT_EQ(ErrorOf(spec), "modle | modle: unknown field");
  spec = Base();
  spec["model"] = {{"blob", "sha256:00"}};
  EXPECT_THAT(ErrorOf(spec), HasSubstr("model.blob | "));
  spec = Base();
  spec["model"] = {{"uri", "file:///does/not/exist.gguf"}};
  EXPECT_THAT(ErrorOf(spec), HasSubstr("model.uri | model.uri: not found"));
  spec = Base();
  spec["calibration"] = {{"n_samples", 0}};
  EXPECT_THAT(ErrorOf(spec), HasSubstr("calibration.n_samples | "));
  spec = Base();
  spec["calibration"] = {{"n_samples", 5000}};
  EXPECT_THAT(ErrorOf(spec), HasSubstr("must be in 1..4096, got 5000"));
  spec = Base();
  spec["evaluation"] = {
      {"dataset",
       {{"uri", "file://" + (dir_ / "wiki.valid.tokens").string()}}}};
  EXPECT_THAT(ErrorOf(spec), HasSubstr("evaluation.dataset | "));
  spec = Base();
  spec["scheme"]["activations"] = {{"granularity", "PER_CHANNEL"}};
  EXPECT_THAT(ErrorOf(spec), HasSubstr("scheme.activations.granularity | "));
  spec = Base();
  spec["scheme"]["weights"] = {{"granularity", "GRANULARITY_PER_TOKEN"}};
  EXPECT_THAT(ErrorOf(spec), HasSubstr("scheme.weights.granularity | "));
  spec = Base();
  spec["scheme"] = {{"preset", "w8a8-pt"}};
  spec["method_params"] = {{"up_down", true}};
  EXPECT_THAT(ErrorOf(spec), HasSubstr("method_params.up_down | "));
  spec = Base();
  spec["export_formats"] = {"ONNX"};
  EXPECT_THAT(ErrorOf(spec), HasSubstr("export_formats[0] | "));
}

TEST_F(JobSpecTest, ModelChecksNameTheField) {
  io::ModelConfig config;
  config.hidden_size = 576;
  config.intermediate_size = 1536;
  config.num_heads = 9;
  config.head_dim = 64;
  config.max_position_embeddings = 2048;
  nlohmann::json json = Base();
  json["scheme"] = {{"preset", "w4a16-g100"}};
  JobSpec spec = ParseJobSpec(json, defaults_);
  try {
    ValidateAgainstModel(spec, config);
    ADD_FAILURE() << "group size 100 accepted for hidden size 576";
  } catch (const SpecError& error) {
    EXPECT_EQ(error.field(), "scheme.weights.group_size");
    EXPECT_THAT(error.what(), HasSubstr("100 does not divide hidden_size"));
  }
  json = Base();
  json["calibration"] = {{"seq_len", 4096}};
  spec = ParseJobSpec(json, defaults_);
  EXPECT_THROW(ValidateAgainstModel(spec, config), SpecError);
  json["calibration"] = nlohmann::json::object();
  spec = ParseJobSpec(json, defaults_);
  ValidateAgainstModel(spec, config);
  EXPECT_EQ(spec.calibration.seq_len, 2048);
  EXPECT_EQ(spec.evaluation.seq_len, 2048);
  // A budget below one window of the default length: refused before any
  // work, not by the evaluation after the whole quantization.
  json["evaluation"] = {{"max_tokens", 512}};
  spec = ParseJobSpec(json, defaults_);
  try {
    ValidateAgainstModel(spec, config);
    ADD_FAILURE() << "512 evaluation tokens accepted with 2048-token windows";
  } catch (const SpecError& error) {
    EXPECT_EQ(error.field(), "evaluation.max_tokens");
    EXPECT_THAT(error.what(), HasSubstr("at least evaluation.seq_len (2048)"));
  }
}

TEST_F(JobSpecTest, RefusesExportFormatsThatCannotHoldTheScheme) {
  io::ModelConfig config;  // A LLaMA whose dims take groups of 32.
  config.hidden_size = 576;
  config.intermediate_size = 1536;
  config.num_heads = 9;
  config.head_dim = 64;
  config.max_position_embeddings = 2048;
  // "field | message" of ValidateAgainstModel, or "ok".
  auto validate = [&](const std::string& model, const std::string& scheme,
                      const std::string& format) {
    nlohmann::json json = {
        {"model", {{"uri", "file://" + (dir_ / model).string()}}},
        {"method", "rtn"},
        {"scheme", {{"preset", scheme}}},
        {"export_formats", {"EXPORT_FORMAT_PACKED_INT", format}}};
    JobSpec spec = ParseJobSpec(json, defaults_);
    try {
      ValidateAgainstModel(spec, config);
    } catch (const SpecError& error) {
      return error.field() + " | " + error.what();
    }
    return std::string("ok");
  };
  const std::string w6a6 =
      validate("model.gguf", "w6a6", "EXPORT_FORMAT_COMPRESSED_TENSORS");
  EXPECT_THAT(w6a6, ::testing::StartsWith("export_formats | "));
  EXPECT_THAT(w6a6, HasSubstr("compressed-tensors cannot hold scheme 'w6a6'"));
  const std::string not_gguf =
      validate("other.txt", "w4a16-g32", "EXPORT_FORMAT_GGUF");
  EXPECT_THAT(not_gguf, ::testing::StartsWith("export_formats | "));
  EXPECT_THAT(not_gguf, HasSubstr("gguf cannot hold scheme 'w4a16-g32'"));
  EXPECT_THAT(not_gguf, HasSubstr("GGUF source"));
  EXPECT_EQ(validate("model.gguf", "w4a16-g32", "EXPORT_FORMAT_GGUF"), "ok");
  EXPECT_EQ(validate("model.gguf", "w4a16-g32", "COMPRESSED_TENSORS"), "ok");
}

TEST_F(JobSpecTest, CanonicalHashIgnoresSchedulingAndTracksSettings) {
  nlohmann::json a = Base();
  nlohmann::json b = Base();
  b["priority"] = 7;
  nlohmann::json c = Base();
  c["method_params"] = {{"search_tokens", 100}};
  EXPECT_EQ(SpecSha256(ParseJobSpec(a, defaults_)),
            SpecSha256(ParseJobSpec(b, defaults_)));
  EXPECT_NE(SpecSha256(ParseJobSpec(a, defaults_)),
            SpecSha256(ParseJobSpec(c, defaults_)));
}

TEST_F(JobSpecTest, UnreadableFilesAreErrorsWithoutAField) {
  std::ofstream(dir_ / "bad.json") << "{not json";
  try {
    ReadJobSpec(dir_ / "bad.json", defaults_);
    ADD_FAILURE() << "malformed JSON accepted";
  } catch (const SpecError& error) {
    EXPECT_EQ(error.field(), "");
    EXPECT_THAT(error.what(), HasSubstr("not valid JSON"));
  }
}

}  // namespace
}  // namespace quantd::engine::pipeline
