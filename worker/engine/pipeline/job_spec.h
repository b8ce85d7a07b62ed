// JobSpec: the engine's view of a quantd.v1.JobSpec, parsed from its proto3
// JSON form (original snake_case field names; enums by name or number;
// 64-bit integers as numbers or decimal strings) with nlohmann-json, since
// the engine links no protobuf. Validation names the dotted field at fault
// ("scheme.weights.bits: must be in 2..8, got 12") and happens before any
// work; checks that need the model's dimensions run right after its config
// is read (ValidateAgainstModel).
//
// Plain value type.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "worker/engine/io/model_config.h"
#include "worker/engine/methods/registry.h"
#include "worker/engine/quant/scheme.h"

namespace quantd::engine::pipeline {

// A spec that cannot be run. field() is the dotted JobSpec path ("" when
// the document as a whole is at fault); the message reads "field: problem".
class SpecError : public std::runtime_error {
 public:
  SpecError(std::string field, const std::string& problem);
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

// Where datasets come from when the spec names none.
struct SpecDefaults {
  // Directory holding wiki.valid.tokens (calibration) and wiki.test.raw
  // (evaluation); empty when there is none.
  std::filesystem::path data_dir;
};

struct CalibrationSettings {
  std::filesystem::path dataset;
  // Filled by HashDatasets; identifies the text in CanonicalSpec.
  std::string dataset_sha256;
  int64_t n_samples = 128;  // [1, 4096]
  // [8, 32768]; 0 = the model kind's default (2048 decoders, 128 encoders).
  int64_t seq_len = 0;
  uint64_t seed = 0;
};

struct EvaluationSettings {
  std::filesystem::path dataset;
  std::string dataset_sha256;
  // [8, 32768]; 0 = the model kind's default (2048 decoders, 128 encoders).
  int64_t seq_len = 0;
  int64_t max_tokens = 0;  // 0 = the whole text.
  bool skip = false;
};

// One attempt of a job with an accuracy target: a method (or recipe) with
// its stages and a scheme.
struct Candidate {
  std::string method;
  std::vector<methods::RecipeStage> stages;
  quant::QuantScheme scheme;
};

// JobSpec.target (contract/accuracy_target.h, docs/TARGETS.md).
struct TargetSettings {
  double max_perplexity_increase = 0.0;  // Decoders.
  double min_cosine = 0.0;               // Encoders.
  // Tried in order after the job's own method and scheme.
  std::vector<Candidate> fallbacks;
};

struct JobSpec {
  std::filesystem::path model_path;
  // One method or a recipe, "osplus+gptq" (contract/recipe.h).
  std::string method;
  // Its stages with their checked method_params; one for a single method.
  std::vector<methods::RecipeStage> stages;
  quant::QuantScheme scheme;
  CalibrationSettings calibration;
  EvaluationSettings evaluation;
  // Proto names without the prefix ("HF_SAFETENSORS", "PACKED_INT",
  // "COMPRESSED_TENSORS", "GGUF"); the first two when the spec names none.
  std::vector<std::string> export_formats;
  // Unset: one attempt.
  std::optional<TargetSettings> target;
};

// The attempts of `spec`: its own method and scheme, then the target's
// fallbacks; each a spec of its own without a target.
std::vector<JobSpec> AttemptSpecs(const JobSpec& spec);

// Parses and validates a JobSpec document. Throws SpecError.
JobSpec ParseJobSpec(const nlohmann::json& document,
                     const SpecDefaults& defaults);
// Reads `path` (JSON) and parses it. Throws SpecError (field "") when the
// file is unreadable or not JSON.
JobSpec ReadJobSpec(const std::filesystem::path& path,
                    const SpecDefaults& defaults);

// Checks that need the model: group sizes dividing every Linear's input
// dimension, sequence lengths within the position table, exports able to
// hold the scheme, a target's bound matching the model's metric (each
// fallback checked as an attempt). Fills the default sequence lengths.
// Throws SpecError.
void ValidateAgainstModel(JobSpec& spec, const io::ModelConfig& config);

// Fills the datasets' SHA-256 (io::Sha256File). Throws io::FormatError.
void HashDatasets(JobSpec& spec);

// The normalised spec (defaults filled; scheduling fields and local paths
// dropped, datasets by hash, since a retried job may see other paths)
// whose SHA-256 identifies a job's checkpoints.
nlohmann::json CanonicalSpec(const JobSpec& spec);
std::string SpecSha256(const JobSpec& spec);

}  // namespace quantd::engine::pipeline
