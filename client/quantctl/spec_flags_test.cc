#include "client/quantctl/spec_flags.h"

#include "client/quantctl/data_source.h"
#include "client/quantctl/scheme_flags.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::client {
namespace {

using ::testing::HasSubstr;

constexpr char kBlob[] =
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

SubmitFlags MinimalFlags() {
  SubmitFlags flags;
  flags.model = "/models/smollm2.gguf";
  flags.method = "osplus";
  flags.scheme.preset = "w8a8";
  flags.request_id = "req-1";
  return flags;
}

std::string ErrorOf(const SubmitFlags& flags) {
  return std::string(BuildSubmitPlan(flags).status().message());
}

TEST(SpecFlagsTest, MapsEveryFlagToItsSpecField) {
  SubmitFlags flags = MinimalFlags();
  flags.calib_data = kBlob;
  flags.samples = "16";
  flags.seq_len = "512";
  flags.seed = "7";
  flags.eval_data = "file:///data/wiki.test.raw";
  flags.eval_seq_len = "1024";
  flags.max_tokens = "4096";
  flags.params = {"alpha=0.5"};
  flags.labels = {"team=ml"};
  flags.exports = {"packed", "compressed-tensors", "GGUF"};
  flags.priority = "-5";
  flags.device = "cpu";
  flags.max_attempts = "2";
  const auto plan = BuildSubmitPlan(flags);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const auto& spec = plan->request.spec();
  EXPECT_EQ(plan->request.request_id(), "req-1");
  EXPECT_EQ(spec.model().uri(), "file:///models/smollm2.gguf");
  EXPECT_EQ(spec.method(), "osplus");
  EXPECT_EQ(spec.scheme().preset(), "w8a8");
  EXPECT_EQ(spec.calibration().dataset().blob(), kBlob);
  EXPECT_EQ(spec.calibration().n_samples(), 16u);
  EXPECT_EQ(spec.calibration().seq_len(), 512u);
  EXPECT_EQ(spec.calibration().seed(), 7u);
  EXPECT_EQ(spec.evaluation().dataset().uri(), "file:///data/wiki.test.raw");
  EXPECT_EQ(spec.evaluation().seq_len(), 1024u);
  EXPECT_EQ(spec.evaluation().max_tokens(), 4096u);
  EXPECT_DOUBLE_EQ(spec.method_params().fields().at("alpha").number_value(),
                   0.5);
  EXPECT_EQ(spec.labels().at("team"), "ml");
  ASSERT_EQ(spec.export_formats_size(), 3);
  EXPECT_EQ(spec.export_formats(0), quantd::v1::EXPORT_FORMAT_PACKED_INT);
  EXPECT_EQ(spec.export_formats(1),
            quantd::v1::EXPORT_FORMAT_COMPRESSED_TENSORS);
  EXPECT_EQ(spec.export_formats(2), quantd::v1::EXPORT_FORMAT_GGUF);
  EXPECT_EQ(spec.priority(), -5);
  EXPECT_EQ(spec.resources().device(), "cpu");
  EXPECT_EQ(spec.retry().max_attempts(), 2u);
}

TEST(SpecFlagsTest, RecordsLocalInputsForUploadButNotBlobs) {
  SubmitFlags flags = MinimalFlags();
  flags.calib_data = kBlob;
  flags.eval_data = "file:///data/test.raw";
  const auto plan = BuildSubmitPlan(flags);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->local_inputs.size(), 2u);
  EXPECT_EQ(plan->local_inputs[0].field, "model");
  EXPECT_EQ(plan->local_inputs[0].kind, "model");
  EXPECT_EQ(plan->local_inputs[0].path, "/models/smollm2.gguf");
  EXPECT_EQ(plan->local_inputs[1].field, "evaluation.dataset");
  EXPECT_EQ(plan->local_inputs[1].flag, "--eval-data");
  EXPECT_EQ(plan->local_inputs[1].path, "/data/test.raw");
}

TEST(SpecFlagsTest, ErrorsNameTheFlagAndTheReason) {
  SubmitFlags flags = MinimalFlags();
  flags.samples = "0";
  EXPECT_EQ(ErrorOf(flags), "--samples: must be in 1..4096, got 0");
  flags = MinimalFlags();
  flags.seq_len = "4";
  EXPECT_EQ(ErrorOf(flags), "--seq-len: must be in 8..32768, got 4");
  flags = MinimalFlags();
  flags.method = "";
  EXPECT_THAT(ErrorOf(flags), HasSubstr("--method: required"));
  flags = MinimalFlags();
  flags.priority = "101";
  EXPECT_EQ(ErrorOf(flags), "--priority: must be in -100..100, got 101");
  flags = MinimalFlags();
  flags.device = "tpu";
  EXPECT_THAT(ErrorOf(flags), HasSubstr("--device: must be cuda or cpu"));
  flags = MinimalFlags();
  flags.exports = {"onnx"};
  EXPECT_EQ(ErrorOf(flags),
            "--export: must be one of {hf, packed, compressed-tensors, gguf}, "
            "got \"onnx\"");
  flags = MinimalFlags();
  flags.model = "http://example.com/model.gguf";
  EXPECT_THAT(ErrorOf(flags), HasSubstr("MODEL: only file:// URIs"));
  flags = MinimalFlags();
  flags.calib_data = "sha256:xyz";
  EXPECT_THAT(ErrorOf(flags), HasSubstr("--calib-data"));
  flags = MinimalFlags();
  flags.request_id = std::string(129, 'r');
  EXPECT_THAT(ErrorOf(flags), HasSubstr("--request-id: must be 1..128"));
}

TEST(SpecFlagsTest, ATargetWithFallbacks) {
  SubmitFlags flags = MinimalFlags();
  flags.method = "rtn";
  flags.max_ppl_increase = "0.02";
  flags.fallbacks = {"smoothquant", "osplus+gptq@w6a6"};
  auto plan = BuildSubmitPlan(flags);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const quantd::v1::AccuracyTarget& target = plan->request.spec().target();
  EXPECT_EQ(target.max_perplexity_increase(), 0.02);
  ASSERT_EQ(target.fallbacks_size(), 2);
  EXPECT_EQ(target.fallbacks(0).method(), "smoothquant");
  EXPECT_FALSE(target.fallbacks(0).has_scheme());
  EXPECT_EQ(target.fallbacks(1).method(), "osplus+gptq");
  EXPECT_EQ(target.fallbacks(1).scheme().preset(), "w6a6");
  flags.max_ppl_increase = "2%";
  EXPECT_EQ(ErrorOf(flags), "--max-ppl-increase: not a number: \"2%\"");
  flags.max_ppl_increase = "";
  EXPECT_EQ(ErrorOf(flags),
            "--fallback: needs a target: --max-ppl-increase or --min-cosine");
  flags.fallbacks.clear();
  plan = BuildSubmitPlan(flags);
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->request.spec().has_target());
}

TEST(SpecFlagsTest, NoEvalConflictsWithEvaluationFlags) {
  SubmitFlags flags = MinimalFlags();
  flags.no_eval = true;
  ASSERT_TRUE(BuildSubmitPlan(flags).ok());
  EXPECT_TRUE(BuildSubmitPlan(flags)->request.spec().evaluation().skip());
  flags.max_tokens = "100";
  EXPECT_THAT(ErrorOf(flags), HasSubstr("--no-eval: conflicts"));
}

TEST(SchemeFlagsTest, ExplicitSettingsOverrideAPreset) {
  SchemeFlags flags;
  flags.preset = "w4a16-g128";
  flags.weight_bits = "3";
  flags.symmetric = true;
  const auto scheme = BuildScheme(flags);
  ASSERT_TRUE(scheme.ok()) << scheme.status();
  EXPECT_EQ(scheme->preset(), "w4a16-g128");
  EXPECT_EQ(scheme->weights().bits(), 3u);
  EXPECT_TRUE(scheme->weights().enabled());
  EXPECT_TRUE(scheme->weights().symmetric());
  // A16: --symmetric does not switch activation quantization on.
  EXPECT_FALSE(scheme->has_activations());
  EXPECT_EQ(SchemeSummary(*scheme), "w4a16-g128");
}

TEST(SchemeFlagsTest, AcceptsEveryPresetTheContractParses) {
  for (const char* preset : {"w8a8", "w8a8-pt", "w6a6", "w5a5", "w4a4-pt",
                             "w4a4-g128", "W4A16-G32", "w2a16"}) {
    SchemeFlags flags;
    flags.preset = preset;
    const auto scheme = BuildScheme(flags);
    ASSERT_TRUE(scheme.ok()) << preset << ": " << scheme.status();
    EXPECT_EQ(scheme->preset(), preset);
  }
  // --symmetric reaches the activations exactly when the preset quantizes
  // them.
  SchemeFlags flags;
  flags.preset = "w6a6";
  flags.symmetric = true;
  auto scheme = BuildScheme(flags);
  ASSERT_TRUE(scheme.ok()) << scheme.status();
  EXPECT_TRUE(scheme->activations().symmetric());
  flags.preset = "w4a16-g32";
  scheme = BuildScheme(flags);
  ASSERT_TRUE(scheme.ok()) << scheme.status();
  EXPECT_FALSE(scheme->has_activations());
}

TEST(SchemeFlagsTest, BuildsAnExplicitSchemeWithoutPreset) {
  SchemeFlags flags;
  flags.weight_bits = "4";
  flags.group_size = "64";
  flags.activation_bits = "8";
  flags.activation_granularity = "token";
  flags.dynamic = true;
  const auto scheme = BuildScheme(flags);
  ASSERT_TRUE(scheme.ok()) << scheme.status();
  EXPECT_EQ(scheme->weights().granularity(), quantd::v1::GRANULARITY_PER_GROUP);
  EXPECT_EQ(scheme->weights().group_size(), 64u);
  EXPECT_EQ(scheme->activations().bits(), 8u);
  EXPECT_EQ(scheme->activations().granularity(),
            quantd::v1::GRANULARITY_PER_TOKEN);
  EXPECT_TRUE(scheme->activations().dynamic());
  EXPECT_TRUE(scheme->activations().enabled());
  EXPECT_EQ(SchemeSummary(*scheme), "w4a8-g64");
}

TEST(SchemeFlagsTest, RejectsInvalidSchemesNamingTheFlag) {
  auto error = [](SchemeFlags flags) {
    return std::string(BuildScheme(flags).status().message());
  };
  // The contract's grammar decides (w5a5 and w4a4-pt, which the old
  // regex refused, are presets the engine runs).
  SchemeFlags flags;
  flags.preset = "w9a9";
  EXPECT_THAT(error(flags),
              HasSubstr("--scheme: scheme 'w9a9': weight bits 9 out of range"));
  flags.preset = "w4a16-pt";
  EXPECT_THAT(error(flags), HasSubstr("--scheme: scheme 'w4a16-pt'"));
  flags.preset = "w4a16-g0";
  EXPECT_THAT(error(flags), HasSubstr("--scheme: scheme 'w4a16-g0'"));
  flags.preset = "int8";
  EXPECT_THAT(error(flags), HasSubstr("expected w<bits>a<bits>[-pt][-g<N>]"));
  flags = {};
  EXPECT_THAT(error(flags), HasSubstr("--scheme: give a preset"));
  flags.weight_bits = "12";
  EXPECT_EQ(error(flags), "--w-bits: must be in 2..8, got 12");
  flags.weight_bits = "4";
  flags.weight_granularity = "token";
  EXPECT_EQ(error(flags),
            "--w-granularity: per-token applies to activations only");
  flags.weight_granularity = "channel";
  flags.group_size = "128";
  EXPECT_THAT(error(flags), HasSubstr("--group-size: needs per-group"));
  flags = {};
  flags.preset = "w8a8";
  flags.activation_granularity = "group";
  EXPECT_THAT(error(flags), HasSubstr("--a-granularity: per-group"));
  flags.activation_granularity = "";
  flags.activation_bits = "1";
  EXPECT_EQ(error(flags), "--a-bits: must be in 2..8, got 1");
}

TEST(DataSourceTest, ClassifiesBlobsUrisAndPaths) {
  const auto blob = ParseDataSource(kBlob, "MODEL");
  ASSERT_TRUE(blob.ok());
  EXPECT_EQ(blob->ref.blob(), kBlob);
  EXPECT_TRUE(blob->local_path.empty());
  const auto uri = ParseDataSource("file:///a/b.gguf", "MODEL");
  ASSERT_TRUE(uri.ok());
  EXPECT_EQ(uri->ref.uri(), "file:///a/b.gguf");
  EXPECT_EQ(uri->local_path, "/a/b.gguf");
  const auto path = ParseDataSource("/x/../y/m.gguf", "MODEL");
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(path->ref.uri(), "file:///y/m.gguf");
  const auto relative = ParseDataSource("m.gguf", "MODEL");
  ASSERT_TRUE(relative.ok());
  EXPECT_EQ(relative->local_path.front(), '/');
  EXPECT_FALSE(ParseDataSource("file://relative", "MODEL").ok());
  EXPECT_FALSE(ParseDataSource("", "MODEL").ok());
}

}  // namespace
}  // namespace quantd::client
