#include "server/scheduler/spec_validator.h"

#include <filesystem>
#include <functional>
#include <limits>
#include <utility>
#include <vector>

#include "common/sha256.h"
#include "common/status.h"
#include "gtest/gtest.h"
#include "server/scheduler/memory_estimate.h"
#include "server/scheduler/scheduler_test_util.h"

namespace quantd::scheduler {
namespace {

namespace fs = std::filesystem;
using quantd::v1::JobSpec;
using testing_util::TempDir;

class SpecValidatorTest : public testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_.path() / "models";
    testing_util::WriteHfModel(root_ / "tiny", 64, 128);
    testing_util::WriteHfModel(dir_.path() / "outside", 64, 128);
    fs::create_directory_symlink(dir_.path() / "outside", root_ / "escape");
    auto roots = AllowedRoots::Create({root_.string()});
    ASSERT_TRUE(roots.ok()) << roots.status();
    roots_ = *roots;
    context_.roots = &roots_;
    context_.now_ms = 1'000'000;
    context_.blob_path =
        [this](const std::string& hex) -> std::optional<std::string> {
      if (hex == Sha256Hex("blob")) return (root_ / "tiny").string();
      return std::nullopt;
    };
  }

  JobSpec Valid() const {
    JobSpec spec;
    spec.mutable_model()->set_uri("file://" + (root_ / "tiny").string());
    spec.set_method("rtn");
    spec.mutable_scheme()->set_preset("w4a16");
    return spec;
  }

  // The field an invalid spec is rejected for ("" when it is accepted).
  std::string RejectedField(const std::function<void(JobSpec&)>& edit) {
    JobSpec spec = Valid();
    edit(spec);
    auto result = ValidateSpec(spec, context_);
    if (result.ok()) return "";
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument)
        << result.status();
    return FieldOfError(result.status());
  }

  TempDir dir_;
  fs::path root_;
  AllowedRoots roots_;
  ValidationContext context_;
};

TEST_F(SpecValidatorTest, AcceptsAndNormalisesAValidSpec) {
  auto result = ValidateSpec(Valid(), context_);
  ASSERT_TRUE(result.ok()) << result.status();
  const JobSpec& spec = result->spec;
  // The scheme is stored as submitted; its expansion is what was checked.
  EXPECT_EQ(spec.scheme().SerializeAsString(),
            Valid().scheme().SerializeAsString());
  auto scheme = EffectiveScheme(spec.scheme());
  ASSERT_TRUE(scheme.ok()) << scheme.status();
  EXPECT_EQ(scheme->weights().bits(), 4u);
  EXPECT_TRUE(scheme->weights().enabled());
  EXPECT_EQ(scheme->weights().granularity(),
            quantd::v1::GRANULARITY_PER_CHANNEL);
  EXPECT_FALSE(scheme->activations().enabled());
  EXPECT_EQ(spec.calibration().n_samples(), 128u);
  EXPECT_EQ(spec.calibration().seq_len(), 2048u);
  EXPECT_EQ(spec.retry().max_attempts(), 3u);
  EXPECT_EQ(spec.export_formats_size(), 2);
  EXPECT_EQ(result->model.hidden_size, 64u);
  EXPECT_EQ(WeightBitsLabel(spec), "4");
}

TEST_F(SpecValidatorTest, EachInvalidSpecNamesItsField) {
  struct Case {
    const char* name;
    std::function<void(JobSpec&)> edit;
    const char* field;
  };
  const std::vector<Case> cases = {
      {"no method", [](JobSpec& s) { s.clear_method(); }, "method"},
      {"unknown method", [](JobSpec& s) { s.set_method("magic"); }, "method"},
      {"no model", [](JobSpec& s) { s.clear_model(); }, "model"},
      {"http model",
       [](JobSpec& s) { s.mutable_model()->set_uri("http://x/m"); },
       "model.uri"},
      {"relative model",
       [](JobSpec& s) { s.mutable_model()->set_uri("file://models/tiny"); },
       "model.uri"},
      {"dot-dot",
       [this](JobSpec& s) {
         s.mutable_model()->set_uri("file://" + root_.string() + "/../outside");
       },
       "model.uri"},
      {"outside root",
       [this](JobSpec& s) {
         s.mutable_model()->set_uri("file://" +
                                    (dir_.path() / "outside").string());
       },
       "model.uri"},
      {"symlink escape",
       [this](JobSpec& s) {
         s.mutable_model()->set_uri("file://" + (root_ / "escape").string());
       },
       "model.uri"},
      {"missing model",
       [this](JobSpec& s) {
         s.mutable_model()->set_uri("file://" + (root_ / "nope").string());
       },
       "model.uri"},
      {"bad blob ref", [](JobSpec& s) { s.mutable_model()->set_blob("md5:1"); },
       "model.blob"},
      {"unknown blob",
       [](JobSpec& s) { s.mutable_model()->set_blob(BlobRef(Sha256Hex("x"))); },
       "model.blob"},
      {"no scheme", [](JobSpec& s) { s.clear_scheme(); }, "scheme"},
      {"unknown preset",
       [](JobSpec& s) { s.mutable_scheme()->set_preset("w5a5"); },
       "scheme.preset"},
      {"bits too high",
       [](JobSpec& s) { s.mutable_scheme()->mutable_weights()->set_bits(12); },
       "scheme.weights.bits"},
      {"bits too low",
       [](JobSpec& s) {
         s.mutable_scheme()->clear_preset();
         s.mutable_scheme()->mutable_activations()->set_bits(1);
       },
       "scheme.activations.bits"},
      {"group does not divide hidden",
       [](JobSpec& s) { s.mutable_scheme()->set_preset("w4a16-g48"); },
       "scheme.weights.group_size"},
      {"group without per-group",
       [](JobSpec& s) {
         s.mutable_scheme()->mutable_weights()->set_group_size(32);
       },
       "scheme.weights.group_size"},
      {"per-token weights",
       [](JobSpec& s) {
         s.mutable_scheme()->mutable_weights()->set_granularity(
             quantd::v1::GRANULARITY_PER_TOKEN);
       },
       "scheme.weights.granularity"},
      {"unknown observer",
       [](JobSpec& s) {
         s.mutable_scheme()->mutable_weights()->set_observer("guess");
       },
       "scheme.weights.observer"},
      {"too many samples",
       [](JobSpec& s) { s.mutable_calibration()->set_n_samples(5000); },
       "calibration.n_samples"},
      {"short windows",
       [](JobSpec& s) { s.mutable_calibration()->set_seq_len(4); },
       "calibration.seq_len"},
      {"evaluation budget below one window",
       [](JobSpec& s) {
         s.mutable_evaluation()->set_seq_len(2048);
         s.mutable_evaluation()->set_max_tokens(512);
       },
       "evaluation.max_tokens"},
      {"eval equals calibration",
       [this](JobSpec& s) {
         const std::string uri =
             "file://" + (root_ / "tiny/config.json").string();
         s.mutable_calibration()->mutable_dataset()->set_uri(uri);
         s.mutable_evaluation()->mutable_dataset()->set_uri(uri);
       },
       "evaluation.dataset"},
      {"priority", [](JobSpec& s) { s.set_priority(101); }, "priority"},
      {"device", [](JobSpec& s) { s.mutable_resources()->set_device("tpu"); },
       "resources.device"},
      {"attempts", [](JobSpec& s) { s.mutable_retry()->set_max_attempts(11); },
       "retry.max_attempts"},
      {"past deadline",
       [](JobSpec& s) { s.mutable_deadline()->set_seconds(10); }, "deadline"},
      {"duplicate export",
       [](JobSpec& s) {
         s.add_export_formats(quantd::v1::EXPORT_FORMAT_PACKED_INT);
         s.add_export_formats(quantd::v1::EXPORT_FORMAT_PACKED_INT);
       },
       "export_formats"},
      {"long label",
       [](JobSpec& s) { (*s.mutable_labels())["k"] = std::string(64, 'v'); },
       "labels.k"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(RejectedField(c.edit), c.field) << c.name;
  }
}

// Found while writing fuzz/job_spec_fuzzer (UBSan reports it on the fuzzer):
// seconds * 1000 overflowed int64, undefined behaviour, and a far-future
// deadline could wrap into an accepted one.
TEST_F(SpecValidatorTest, RejectsDeadlinesOutsideTheTimestampRange) {
  for (const auto& [seconds, nanos] : std::vector<std::pair<int64_t, int32_t>>{
           {int64_t{1} << 62, 0},
           {std::numeric_limits<int64_t>::max(), 0},
           {std::numeric_limits<int64_t>::min(), 0},
           {253402300800, 0},  // 10000-01-01T00:00:00Z
           {2'000'000'000, -1},
           {2'000'000'000, 1'000'000'000}}) {
    JobSpec spec = Valid();
    spec.mutable_deadline()->set_seconds(seconds);
    spec.mutable_deadline()->set_nanos(nanos);
    const auto result = ValidateSpec(spec, context_);
    ASSERT_FALSE(result.ok()) << seconds << "s " << nanos << "ns";
    EXPECT_EQ(FieldOfError(result.status()), "deadline");
    EXPECT_NE(result.status().message().find("not a valid timestamp"),
              absl::string_view::npos)
        << result.status();
  }
  JobSpec spec = Valid();
  spec.mutable_deadline()->set_seconds(253402300799);  // 9999-12-31T23:59:59Z
  spec.mutable_deadline()->set_nanos(999'999'999);
  EXPECT_TRUE(ValidateSpec(spec, context_).ok());
}

TEST_F(SpecValidatorTest, ExplicitFieldsOverrideThePreset) {
  JobSpec spec = Valid();
  spec.mutable_scheme()->set_preset("w4a16-g32");
  spec.mutable_scheme()->mutable_activations()->set_bits(8);
  auto result = ValidateSpec(spec, context_);
  ASSERT_TRUE(result.ok()) << result.status();
  auto scheme = EffectiveScheme(result->spec.scheme());
  ASSERT_TRUE(scheme.ok()) << scheme.status();
  EXPECT_EQ(scheme->weights().group_size(), 32u);
  EXPECT_EQ(scheme->activations().bits(), 8u);
  EXPECT_TRUE(scheme->activations().enabled());
}

TEST_F(SpecValidatorTest, AcceptsAnUploadedBlobModel) {
  JobSpec spec = Valid();
  spec.mutable_model()->set_blob(BlobRef(Sha256Hex("blob")));
  auto result = ValidateSpec(spec, context_);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->input_blobs.size(), 1u);
  EXPECT_EQ(result->input_blobs[0], Sha256Hex("blob"));
}

TEST_F(SpecValidatorTest, NoAllowedRootsDisablesFileUris) {
  AllowedRoots none;
  context_.roots = &none;
  EXPECT_EQ(RejectedField([](JobSpec&) {}), "model.uri");
}

TEST_F(SpecValidatorTest, MalformedConfigJsonIsRejected) {
  testing_util::WriteFile(root_ / "broken/config.json",
                          "{\"hidden_size\": -3}");
  EXPECT_EQ(
      RejectedField([this](JobSpec& s) {
        s.mutable_model()->set_uri("file://" + (root_ / "broken").string());
      }),
      "model.uri");
  testing_util::WriteFile(root_ / "notjson/config.json", "[1, 2");
  EXPECT_EQ(
      RejectedField([this](JobSpec& s) {
        s.mutable_model()->set_uri("file://" + (root_ / "notjson").string());
      }),
      "model.uri");
}

// Found by fuzz/model_config_fuzzer: a model_type that is not a string threw
// nlohmann's type_error out of InspectModel, which ended quantd
// (std::terminate) on a tenant's submission.
TEST_F(SpecValidatorTest, NonStringModelTypeIsRejected) {
  for (const char* model_type : {"12", "[\"bert\"]", "{}", "true"}) {
    testing_util::WriteFile(
        root_ / "typed/config.json",
        std::string("{\"model_type\": ") + model_type +
            ", \"hidden_size\": 64, \"intermediate_size\": 128}");
    const auto result = ValidateSpec(
        [this] {
          JobSpec spec = Valid();
          spec.mutable_model()->set_uri("file://" + (root_ / "typed").string());
          return spec;
        }(),
        context_);
    ASSERT_FALSE(result.ok()) << model_type;
    EXPECT_EQ(FieldOfError(result.status()), "model.uri");
    EXPECT_NE(result.status().message().find("\"model_type\" must be a string"),
              absl::string_view::npos)
        << result.status();
  }
  // null counts as absent, as for the dimensions.
  testing_util::WriteFile(root_ / "typed/config.json",
                          "{\"model_type\": null, \"hidden_size\": 64}");
  EXPECT_EQ(
      RejectedField([this](JobSpec& s) {
        s.mutable_model()->set_uri("file://" + (root_ / "typed").string());
      }),
      "");
}

TEST_F(SpecValidatorTest, EstimateGrowsWithCalibrationSize) {
  auto small = ValidateSpec(Valid(), context_);
  JobSpec big_spec = Valid();
  big_spec.mutable_calibration()->set_n_samples(1024);
  auto big = ValidateSpec(big_spec, context_);
  ASSERT_TRUE(small.ok() && big.ok());
  const MemoryEstimate a = EstimateMemory(small->model, small->spec);
  const MemoryEstimate b = EstimateMemory(big->model, big->spec);
  // Three activation streams of 896 more samples x 2048 tokens x 64 x 4 B.
  EXPECT_EQ(b.device_memory_bytes - a.device_memory_bytes,
            3ull * 896 * 2048 * 64 * 4);
  EXPECT_GT(b.host_memory_bytes, a.host_memory_bytes);
}

}  // namespace
}  // namespace quantd::scheduler
