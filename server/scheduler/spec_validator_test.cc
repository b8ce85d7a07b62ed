#include "server/scheduler/spec_validator.h"

#include <filesystem>
#include <functional>
#include <limits>
#include <utility>
#include <vector>

#include "common/sha256.h"
#include "common/status.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "server/scheduler/memory_estimate.h"
#include "server/scheduler/scheduler_test_util.h"

namespace quantd::scheduler {
namespace {

namespace fs = std::filesystem;
using quantd::v1::JobSpec;
using quantd::v1::QuantScheme;
using testing_util::GgufWriter;
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
  auto scheme = ResolveSpecScheme(spec.scheme());
  ASSERT_TRUE(scheme.ok()) << scheme.status();
  EXPECT_EQ(scheme->weights.bits, 4);
  EXPECT_TRUE(scheme->weights.enabled);
  EXPECT_EQ(scheme->weights.granularity, contract::Granularity::kPerChannel);
  // w4a16 weights are asymmetric, as the engine runs them
  // (contract/scheme_preset.h); the server's old table said symmetric.
  EXPECT_FALSE(scheme->weights.symmetric);
  EXPECT_FALSE(scheme->activations.enabled);
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
      // w5a5 was "unknown" to the server's old table, but the contract's
      // grammar (which the engine always followed) accepts it.
      {"unknown preset",
       [](JobSpec& s) { s.mutable_scheme()->set_preset("w9a9"); },
       "scheme.preset"},
      {"malformed preset suffix",
       [](JobSpec& s) { s.mutable_scheme()->set_preset("w4a16-pt"); },
       "scheme.preset"},
      {"zero preset group",
       [](JobSpec& s) { s.mutable_scheme()->set_preset("w4a16-g0"); },
       "scheme.preset"},
      {"activation group does not divide hidden",
       [](JobSpec& s) { s.mutable_scheme()->set_preset("w4a4-g48"); },
       "scheme.weights.group_size"},
      {"bits too high",
       [](JobSpec& s) { s.mutable_scheme()->mutable_weights()->set_bits(12); },
       "scheme.weights.bits"},
      {"bits too low",
       [](JobSpec& s) {
         s.mutable_scheme()->clear_preset();
         s.mutable_scheme()->mutable_weights()->set_bits(4);
         s.mutable_scheme()->mutable_activations()->set_bits(1);
       },
       "scheme.activations.bits"},
      {"group does not divide hidden",
       [](JobSpec& s) { s.mutable_scheme()->set_preset("w4a16-g48"); },
       "scheme.weights.group_size"},
      {"group without per-group",
       [](JobSpec& s) {
         s.mutable_scheme()->mutable_weights()->set_granularity(
             quantd::v1::GRANULARITY_PER_CHANNEL);
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
  auto scheme = ResolveSpecScheme(result->spec.scheme());
  ASSERT_TRUE(scheme.ok()) << scheme.status();
  EXPECT_EQ(scheme->weights.group_size, 32);
  EXPECT_EQ(scheme->activations.bits, 8);
  EXPECT_TRUE(scheme->activations.enabled);
  // The engine's rule: explicit activations on a weight-only preset start
  // per-token dynamic, and the name says the preset was overridden.
  EXPECT_EQ(scheme->activations.granularity, contract::Granularity::kPerToken);
  EXPECT_TRUE(scheme->activations.dynamic);
  EXPECT_EQ(scheme->name, "w4a16-g32+custom");
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

// GGUF headers are read by the contract's reader (the engine's): a broken
// one is refused at submit naming the field and the metadata key, and the
// message never carries the server's path.
TEST_F(SpecValidatorTest, MalformedGgufHeaderIsRejected) {
  const std::string whole = GgufWriter()
                                .Str("general.architecture", "llama")
                                .U32("llama.block_count", 2)
                                .Bytes();
  for (size_t cut : {size_t{9}, whole.size() - 2}) {
    testing_util::WriteFile(root_ / "cut.gguf", whole.substr(0, cut));
    JobSpec spec = Valid();
    spec.mutable_model()->set_uri("file://" + (root_ / "cut.gguf").string());
    const auto result = ValidateSpec(spec, context_);
    ASSERT_FALSE(result.ok()) << cut;
    EXPECT_EQ(FieldOfError(result.status()), "model.uri");
    EXPECT_EQ(result.status().message().find(root_.string()),
              absl::string_view::npos)
        << result.status();
  }
  testing_util::WriteFile(root_ / "typed.gguf",
                          GgufWriter()
                              .Str("general.architecture", "llama")
                              .Str("llama.block_count", "two")
                              .Bytes());
  JobSpec spec = Valid();
  spec.mutable_model()->set_uri("file://" + (root_ / "typed.gguf").string());
  const auto result = ValidateSpec(spec, context_);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("'llama.block_count'"),
            absl::string_view::npos)
      << result.status();
}

// The server resolves schemes by the contract's rule, as the engine does
// (contract/scheme_request.h; its tests hold the mapping). Its own table
// used to disagree: symmetric w4a16 weights, per-tensor static activations
// for every preset, and per-tensor activations for an explicit scheme.
TEST_F(SpecValidatorTest, SchemesResolveAsTheEngineRunsThem) {
  QuantScheme w8a8;
  w8a8.set_preset("w8a8");
  auto resolved = ResolveSpecScheme(w8a8);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_TRUE(resolved->weights.symmetric);
  EXPECT_EQ(resolved->activations.granularity,
            contract::Granularity::kPerToken);

  QuantScheme custom;
  custom.mutable_weights()->set_bits(6);
  custom.mutable_activations()->set_bits(6);
  resolved = ResolveSpecScheme(custom);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->name, "custom");
  EXPECT_EQ(resolved->weights.granularity, contract::Granularity::kPerChannel);
  EXPECT_EQ(resolved->activations.granularity,
            contract::Granularity::kPerToken);
  EXPECT_TRUE(resolved->activations.dynamic);

  QuantScheme bad;
  bad.set_preset("w4a16-gx");
  const absl::Status status = ResolveSpecScheme(bad).status();
  EXPECT_EQ(FieldOfError(status), "scheme.preset");
  EXPECT_NE(status.message().find("w4a16-gx"), absl::string_view::npos)
      << status;
}

// The engine runs per-group activations (w4a4-g32 expands to them), so the
// server accepts them too, with the weights' divisibility check.
TEST_F(SpecValidatorTest, AcceptsPerGroupActivations) {
  EXPECT_EQ(RejectedField(
                [](JobSpec& s) { s.mutable_scheme()->set_preset("w4a4-g32"); }),
            "");
  EXPECT_EQ(RejectedField([](JobSpec& s) {
              s.mutable_scheme()->clear_preset();
              s.mutable_scheme()->mutable_weights()->set_bits(4);
              auto* activations = s.mutable_scheme()->mutable_activations();
              activations->set_bits(4);
              activations->set_granularity(quantd::v1::GRANULARITY_PER_GROUP);
              activations->set_group_size(48);
            }),
            "scheme.activations.group_size");
}

// Every proto export format has its contract entry, found by proto name.
TEST(ContractExportFormatTest, EveryProtoFormatHasAContractEntry) {
  const auto* descriptor = quantd::v1::ExportFormat_descriptor();
  for (int i = 0; i < descriptor->value_count(); ++i) {
    const auto value =
        static_cast<quantd::v1::ExportFormat>(descriptor->value(i)->number());
    const auto format = ContractExportFormat(value);
    if (value == quantd::v1::EXPORT_FORMAT_UNSPECIFIED) {
      EXPECT_FALSE(format.has_value());
      continue;
    }
    ASSERT_TRUE(format.has_value()) << descriptor->value(i)->name();
    EXPECT_EQ(contract::InfoOf(*format).proto_name,
              descriptor->value(i)->name());
  }
  EXPECT_EQ(static_cast<size_t>(descriptor->value_count()),
            contract::ExportFormats().size() + 1);
}

class ExportCheckTest : public SpecValidatorTest {
 protected:
  void SetUp() override {
    SpecValidatorTest::SetUp();
    GgufWriter()
        .Str("general.architecture", "llama")
        .U32("llama.embedding_length", 64)
        .U32("llama.feed_forward_length", 128)
        .U32("llama.block_count", 2)
        .WriteTo(root_ / "tiny.gguf");
    testing_util::WriteFile(root_ / "bert/config.json",
                            "{\"model_type\": \"bert\", \"hidden_size\": "
                            "64, \"intermediate_size\": 128}");
  }

  // The status of submitting `preset` exporting only `format` on `model`
  // (a name under the allowed root).
  absl::Status Submit(const std::string& preset,
                      quantd::v1::ExportFormat format,
                      const std::string& model = "tiny") {
    JobSpec spec = Valid();
    spec.mutable_model()->set_uri("file://" + (root_ / model).string());
    spec.mutable_scheme()->set_preset(preset);
    spec.add_export_formats(format);
    return ValidateSpec(spec, context_).status();
  }
};

TEST_F(ExportCheckTest, RefusesCompressedTensorsForW6A6) {
  const absl::Status status =
      Submit("w6a6", quantd::v1::EXPORT_FORMAT_COMPRESSED_TENSORS);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(FieldOfError(status), "export_formats");
  EXPECT_NE(status.message().find("w6a6"), absl::string_view::npos) << status;
  // Formats that hold anything still take it.
  EXPECT_TRUE(Submit("w6a6", quantd::v1::EXPORT_FORMAT_PACKED_INT).ok());
}

TEST_F(ExportCheckTest, AcceptsCompressedTensorsForW8A8AndWeightOnly) {
  for (const char* preset : {"w8a8", "w4a16-g64", "w8a16", "w4a16"}) {
    const absl::Status status =
        Submit(preset, quantd::v1::EXPORT_FORMAT_COMPRESSED_TENSORS);
    EXPECT_TRUE(status.ok()) << preset << ": " << status;
  }
}

TEST_F(ExportCheckTest, RefusesCompressedTensorsForABertModel) {
  const absl::Status status =
      Submit("w8a8", quantd::v1::EXPORT_FORMAT_COMPRESSED_TENSORS, "bert");
  EXPECT_EQ(FieldOfError(status), "export_formats") << status;
  EXPECT_NE(status.message().find("bert"), absl::string_view::npos) << status;
}

TEST_F(ExportCheckTest, GgufNeedsAGgufSourceAndGroup32WeightOnly) {
  EXPECT_TRUE(
      Submit("w4a16-g32", quantd::v1::EXPORT_FORMAT_GGUF, "tiny.gguf").ok());
  const absl::Status hf = Submit("w4a16-g32", quantd::v1::EXPORT_FORMAT_GGUF);
  EXPECT_EQ(FieldOfError(hf), "export_formats") << hf;
  EXPECT_NE(hf.message().find("HF directory"), absl::string_view::npos) << hf;
  for (const char* preset : {"w4a16-g64", "w8a8", "w3a16-g32"}) {
    EXPECT_EQ(FieldOfError(
                  Submit(preset, quantd::v1::EXPORT_FORMAT_GGUF, "tiny.gguf")),
              "export_formats")
        << preset;
  }
}

// An explicit scheme is checked as "custom", through the same expansion.
TEST_F(ExportCheckTest, ChecksAnExplicitSchemeAsCustom) {
  JobSpec spec = Valid();
  spec.mutable_scheme()->clear_preset();
  spec.mutable_scheme()->mutable_weights()->set_bits(8);
  spec.mutable_scheme()->mutable_weights()->set_symmetric(true);
  spec.mutable_scheme()->mutable_activations()->set_bits(8);
  spec.add_export_formats(quantd::v1::EXPORT_FORMAT_COMPRESSED_TENSORS);
  EXPECT_TRUE(ValidateSpec(spec, context_).ok());
  spec.mutable_scheme()->mutable_weights()->set_symmetric(false);
  const absl::Status status = ValidateSpec(spec, context_).status();
  EXPECT_EQ(FieldOfError(status), "export_formats");
  EXPECT_NE(status.message().find("'custom'"), absl::string_view::npos)
      << status;
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

// method_params is checked at submit against contract/method_catalogue.h,
// with the field named, rather than after a worker leased the job.
TEST_F(SpecValidatorTest, MethodParamsAreCheckedAtSubmit) {
  auto set = [](const char* key, google::protobuf::Value value) {
    return [key, value](JobSpec& spec) {
      spec.set_method("osplus");
      spec.mutable_scheme()->set_preset("w6a6");
      (*spec.mutable_method_params()->mutable_fields())[key] = value;
    };
  };
  google::protobuf::Value number;
  number.set_number_value(128);
  EXPECT_EQ(RejectedField(set("search_tokens", number)), "");
  EXPECT_EQ(RejectedField(set("serach_tokens", number)),
            "method_params.serach_tokens");
  google::protobuf::Value text;
  text.set_string_value("yes");
  EXPECT_EQ(RejectedField(set("up_down", text)), "method_params.up_down");
  google::protobuf::Value fraction;
  fraction.set_number_value(1.5);
  EXPECT_EQ(RejectedField(set("search_tokens", fraction)),
            "method_params.search_tokens");
  google::protobuf::Value yes;
  yes.set_bool_value(true);
  // up_down folds into per-row weight steps: per-tensor weights cannot.
  EXPECT_EQ(RejectedField([&](JobSpec& spec) {
              set("up_down", yes)(spec);
              spec.mutable_scheme()->set_preset("w8a8-pt");
            }),
            "method_params.up_down");
  JobSpec spec = Valid();
  set("search_tokens", fraction)(spec);
  auto result = ValidateSpec(spec, context_);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()),
              testing::HasSubstr("must be an integer, got 1.5"));
}

// A recipe (contract/recipe.h): its stage list and each stage's
// parameters are checked at submit, the stage named in the field.
TEST_F(SpecValidatorTest, RecipesAreCheckedAtSubmit) {
  auto recipe = [](const char* method, const char* params_json,
                   const char* preset = "w8a8") {
    return [=](JobSpec& spec) {
      spec.set_method(method);
      spec.mutable_scheme()->set_preset(preset);
      ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                      params_json, spec.mutable_method_params())
                      .ok());
    };
  };
  EXPECT_EQ(RejectedField(recipe("osplus+gptq", "{}")), "");
  EXPECT_EQ(
      RejectedField(recipe("smoothquant+gptq",
                           R"({"batch_size": 4, "smoothquant": {"alpha": 0.8},
                    "gptq": {"act_order": true}})")),
      "");
  EXPECT_EQ(RejectedField(recipe("osplus+gtpq", "{}")), "method");
  EXPECT_EQ(RejectedField(recipe("rtn+gptq", "{}")), "method");
  EXPECT_EQ(RejectedField(recipe("gptq+osplus", "{}")), "method");
  EXPECT_EQ(RejectedField(recipe("osplus+omniquant", "{}")), "method");
  EXPECT_EQ(
      RejectedField(recipe("osplus+gptq", R"({"gptq": {"block_size": 0}})")),
      "method_params.gptq.block_size");
  EXPECT_EQ(RejectedField(recipe("osplus+gptq", R"({"gptq": 3})")),
            "method_params.gptq");
  EXPECT_EQ(RejectedField(recipe("osplus+gptq", R"({"alpha": 0.5})")),
            "method_params.alpha");
  EXPECT_EQ(RejectedField(recipe(
                "osplus+gptq", R"({"osplus": {"up_down": true}})", "w8a8-pt")),
            "method_params.osplus.up_down");
}

// An accuracy target: its bound by the model's metric, and each fallback
// checked as an attempt of its own, its fields named under
// target.fallbacks[i].
TEST_F(SpecValidatorTest, TargetsAreCheckedAtSubmit) {
  auto target = [](const char* target_json) {
    return [=](JobSpec& spec) {
      spec.set_method("rtn");
      spec.mutable_scheme()->set_preset("w8a8");
      ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                      target_json, spec.mutable_target())
                      .ok());
    };
  };
  EXPECT_EQ(RejectedField(target(R"({"max_perplexity_increase": 0.02,
      "fallbacks": [{"method": "smoothquant"},
                    {"method": "osplus+gptq", "scheme": {"preset": "w6a6"},
                     "method_params": {"gptq": {"act_order": true}}}]})")),
            "");
  EXPECT_EQ(RejectedField(target(R"({"fallbacks": [{"method": "rtn"}]})")),
            "target.max_perplexity_increase");
  EXPECT_EQ(RejectedField(target(R"({"min_cosine": 0.99})")),
            "target.min_cosine");
  EXPECT_EQ(
      RejectedField(target(
          R"({"max_perplexity_increase": 0.02, "fallbacks": [{"method": ""}]})")),
      "target.fallbacks[0].method");
  EXPECT_EQ(RejectedField(target(R"({"max_perplexity_increase": 0.02,
      "fallbacks": [{"method": "rtn"}, {"method": "gptq+osplus"}]})")),
            "target.fallbacks[1].method");
  EXPECT_EQ(RejectedField(target(R"({"max_perplexity_increase": 0.02,
      "fallbacks": [{"method": "rtn", "scheme": {"preset": "w9a9"}}]})")),
            "target.fallbacks[0].scheme.preset");
  EXPECT_EQ(RejectedField(target(R"({"max_perplexity_increase": 0.02,
      "fallbacks": [{"method": "smoothquant",
                     "method_params": {"alpha": 3}}]})")),
            "target.fallbacks[0].method_params.alpha");
  EXPECT_EQ(RejectedField([&](JobSpec& spec) {
              target(R"({"max_perplexity_increase": 0.02})")(spec);
              spec.mutable_evaluation()->set_skip(true);
            }),
            "evaluation.skip");
}

}  // namespace
}  // namespace quantd::scheduler
