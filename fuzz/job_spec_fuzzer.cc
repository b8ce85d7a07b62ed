// Fuzz target: the validation of a submitted JobSpec
// (server/scheduler/spec_validator.h), fed the binary protobuf that
// SubmitJob receives. Model and dataset URIs that start with "file://@/"
// point into a scratch root holding a small HF model directory and a small
// GGUF file, so the fuzzer reaches the model inspection and the scheme,
// calibration and scheduling checks; blob "sha256:" + 64 x 'a' names the
// GGUF file.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "fuzz/fuzz_scratch.h"
#include "google/protobuf/stubs/logging.h"
#include "quantd/v1/types.pb.h"
#include "server/scheduler/model_inspector.h"
#include "server/scheduler/spec_validator.h"

namespace {

using quantd::scheduler::AllowedRoots;

constexpr char kConfigJson[] =
    R"({"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
        "num_hidden_layers": 2, "vocab_size": 100})";
constexpr int64_t kNowMs = 1'750'000'000'000;

// "GGUF", version 3, no tensors, two keys: general.architecture = "llama"
// and llama.embedding_length = 64 (uint32).
std::string SmallGguf() {
  std::string bytes("GGUF\3\0\0\0", 8);
  auto u64 = [&bytes](uint64_t value) {
    for (int i = 0; i < 8; ++i)
      bytes.push_back(static_cast<char>(value >> (8 * i)));
  };
  auto u32 = [&bytes](uint32_t value) {
    for (int i = 0; i < 4; ++i)
      bytes.push_back(static_cast<char>(value >> (8 * i)));
  };
  auto str = [&](const std::string& text) {
    u64(text.size());
    bytes += text;
  };
  u64(0);
  u64(2);
  str("general.architecture");
  u32(8);
  str("llama");
  str("llama.embedding_length");
  u32(4);
  u32(64);
  return bytes;
}

struct Fixture {
  Fixture() {
    scratch.Write("models/tiny/config.json", kConfigJson);
    scratch.Write("models/tiny/model.safetensors", std::string(256, '\0'));
    gguf_path = scratch.Write("models/small.gguf", SmallGguf());
    auto created = AllowedRoots::Create({scratch.path() + "/models"});
    if (!created.ok()) std::abort();
    roots = *std::move(created);
    context.roots = &roots;
    context.blob_path = [this](const std::string& hex) {
      return hex == std::string(64, 'a') ? std::optional<std::string>(gguf_path)
                                         : std::nullopt;
    };
    context.now_ms = kNowMs;
  }

  // "file://@/x" -> "file://<root>/x".
  void Place(quantd::v1::DataRef& ref) const {
    if (!ref.has_uri()) return;
    if (absl::StartsWith(ref.uri(), "file://@/")) {
      ref.set_uri("file://" + roots.roots().front() + ref.uri().substr(8));
    }
  }

  quantd::fuzz::ScratchDir scratch;
  std::string gguf_path;
  AllowedRoots roots;
  quantd::scheduler::ValidationContext context;
};

void CheckAccepted(const quantd::scheduler::ValidatedSpec& out) {
  const quantd::v1::JobSpec& spec = out.spec;
  const bool sane = spec.calibration().n_samples() >= 1 &&
                    spec.calibration().n_samples() <= 4096 &&
                    spec.retry().max_attempts() >= 1 &&
                    spec.retry().max_attempts() <= 10 &&
                    spec.export_formats_size() > 0 &&
                    quantd::scheduler::ResolveSpecScheme(spec.scheme()).ok();
  if (!sane) std::abort();
}

}  // namespace

// Invalid UTF-8 in string fields is a parse failure; protobuf would also
// log each one, which drowns the fuzzer's own output.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fixture;
  quantd::v1::JobSpec spec;
  if (!spec.ParseFromArray(data, static_cast<int>(size))) return 0;
  fixture.Place(*spec.mutable_model());
  // Only refs that are set: an empty dataset message means something else.
  if (spec.calibration().has_dataset()) {
    fixture.Place(*spec.mutable_calibration()->mutable_dataset());
  }
  if (spec.evaluation().has_dataset()) {
    fixture.Place(*spec.mutable_evaluation()->mutable_dataset());
  }
  const auto validated = quantd::scheduler::ValidateSpec(spec, fixture.context);
  if (validated.ok()) CheckAccepted(*validated);
  (void)quantd::scheduler::WeightBitsLabel(spec);
  return 0;
}
