#include "worker/engine/pipeline/job_spec.h"

#include <c10/util/StringUtil.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <sstream>

#include "contract/accuracy_target.h"
#include "contract/contract_error.h"
#include "contract/export_format.h"
#include "contract/job_limits.h"
#include "contract/recipe.h"
#include "contract/sha256.h"
#include "worker/engine/methods/block_state.h"
#include "worker/engine/methods/method_error.h"
#include "worker/engine/methods/registry.h"
#include "worker/engine/pipeline/spec_reader.h"

namespace quantd::engine::pipeline {

using internal::SpecReader;

namespace {

constexpr char kCalibrationFile[] = "wiki.valid.tokens";
constexpr char kEvaluationFile[] = "wiki.test.raw";
constexpr int64_t kMinInteger = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxInteger = std::numeric_limits<int64_t>::max();

// A DataRef: a local file:// URI (or a plain absolute path). Blobs must be
// materialised by the worker first.
std::filesystem::path DataRefPath(const nlohmann::json& json,
                                  const std::string& path) {
  SpecReader reader(json, path, {"blob", "uri"});
  if (reader.Has("blob")) {
    throw SpecError(reader.Field("blob"),
                    "the engine reads local files only; give a file:// uri "
                    "(the worker materialises blobs)");
  }
  std::string uri = reader.String("uri").value_or("");
  if (uri.empty()) throw SpecError(reader.Field("uri"), "required");
  constexpr std::string_view kScheme = "file://";
  if (uri.rfind(kScheme, 0) == 0) {
    uri = uri.substr(kScheme.size());
  } else if (uri.find("://") != std::string::npos) {
    throw SpecError(reader.Field("uri"),
                    "only file:// URIs are supported, "
                    "got '" +
                        uri + "'");
  }
  std::filesystem::path file(uri);
  if (!file.is_absolute()) {
    throw SpecError(reader.Field("uri"), "must be an absolute path");
  }
  if (!std::filesystem::exists(file)) {
    throw SpecError(reader.Field("uri"), "not found: " + file.string());
  }
  return file;
}

std::filesystem::path DatasetOrDefault(const SpecReader& reader,
                                       const SpecDefaults& defaults,
                                       const char* file_name) {
  if (const nlohmann::json* dataset = reader.Object("dataset")) {
    return DataRefPath(*dataset, reader.Field("dataset"));
  }
  if (defaults.data_dir.empty()) {
    throw SpecError(reader.Field("dataset"),
                    "no dataset given and no default data directory");
  }
  std::filesystem::path file = defaults.data_dir / file_name;
  if (!std::filesystem::exists(file)) {
    throw SpecError(reader.Field("dataset"),
                    "no dataset given and the default " + file.string() +
                        " does not exist");
  }
  return file;
}

CalibrationSettings ParseCalibration(const nlohmann::json* json,
                                     const SpecDefaults& defaults) {
  SpecReader reader(json ? *json : nlohmann::json(), "calibration",
                    {"dataset", "n_samples", "seq_len", "seed"});
  CalibrationSettings settings;
  settings.dataset = DatasetOrDefault(reader, defaults, kCalibrationFile);
  settings.n_samples = reader.Integer("n_samples", kMinInteger, kMaxInteger)
                           .value_or(contract::kDefaultSamples);
  settings.seq_len =
      reader.Integer("seq_len", kMinInteger, kMaxInteger).value_or(0);
  settings.seed = reader.Unsigned("seed").value_or(0);
  return settings;
}

EvaluationSettings ParseEvaluation(const nlohmann::json* json,
                                   const SpecDefaults& defaults) {
  SpecReader reader(json ? *json : nlohmann::json(), "evaluation",
                    {"dataset", "seq_len", "max_tokens", "skip"});
  EvaluationSettings settings;
  settings.skip = reader.Bool("skip").value_or(false);
  if (!settings.skip) {
    settings.dataset = DatasetOrDefault(reader, defaults, kEvaluationFile);
  }
  settings.seq_len =
      reader.Integer("seq_len", kMinInteger, kMaxInteger).value_or(0);
  settings.max_tokens =
      reader.Integer("max_tokens", 0, kMaxInteger).value_or(0);
  return settings;
}

std::vector<std::string> ParseExportFormats(const SpecReader& reader) {
  std::vector<std::string> formats;
  const nlohmann::json* array = reader.Array("export_formats");
  if (array == nullptr || array->empty()) {
    return {"HF_SAFETENSORS", "PACKED_INT"};
  }
  const auto known = contract::ExportFormats();
  for (size_t i = 0; i < array->size(); ++i) {
    const std::string field = c10::str("export_formats[", i, "]");
    const nlohmann::json& item = (*array)[i];
    std::optional<contract::ExportFormat> format;
    if (item.is_string()) {
      format = contract::ParseExportFormat(item.get<std::string>());
    } else if (item.is_number_integer() && item.get<int64_t>() >= 1 &&
               item.get<int64_t>() <= static_cast<int64_t>(known.size())) {
      format = known[static_cast<size_t>(item.get<int64_t>() - 1)].format;
    }
    if (!format) {
      throw SpecError(
          field, c10::str("unknown format ", item.dump(), " (expected one of: ",
                          contract::ExportFormatCliNames(), ")"));
    }
    // The proto name without its prefix, e.g. "COMPRESSED_TENSORS".
    std::string name = std::string(contract::InfoOf(*format).proto_name)
                           .substr(std::string_view("EXPORT_FORMAT_").size());
    if (std::find(formats.begin(), formats.end(), name) != formats.end()) {
      throw SpecError(field, "lists a format twice");
    }
    formats.push_back(std::move(name));
  }
  return formats;
}

// A recipe's stage list; ContractError as SpecError under `prefix`.
void CheckRecipeStages(const std::string& method, const std::string& prefix) {
  try {
    contract::ParseRecipe(method);
  } catch (const contract::ContractError& error) {
    throw SpecError(prefix + error.field(), error.what());
  }
}

// The stages of `method` with their parameters, checked against `scheme`;
// errors under `prefix`.
std::vector<methods::RecipeStage> ParseStages(const std::string& method,
                                              const nlohmann::json* params,
                                              const quant::QuantScheme& scheme,
                                              const std::string& prefix) {
  try {
    return methods::ParseRecipe(method, params ? *params : nlohmann::json(),
                                scheme);
  } catch (const methods::ParamError& error) {
    throw SpecError(prefix + error.field(), internal::ProblemOf(error.what()));
  }
}

Candidate ParseCandidate(const nlohmann::json& json, const std::string& field,
                         const quant::QuantScheme& job_scheme) {
  SpecReader reader(json, field, {"method", "scheme", "method_params"});
  Candidate candidate;
  candidate.method = reader.String("method").value_or("");
  CheckRecipeStages(candidate.method, field + ".");
  candidate.scheme = job_scheme;
  if (const nlohmann::json* scheme = reader.Object("scheme")) {
    try {
      candidate.scheme = internal::ParseSchemeSpec(*scheme);
    } catch (const SpecError& error) {
      throw SpecError(field + "." + error.field(),
                      internal::ProblemOf(error.what()));
    }
  }
  candidate.stages =
      ParseStages(candidate.method, reader.Object("method_params"),
                  candidate.scheme, field + ".");
  return candidate;
}

TargetSettings ParseTarget(const nlohmann::json& json,
                           const quant::QuantScheme& job_scheme) {
  SpecReader reader(json, "target",
                    {"max_perplexity_increase", "min_cosine", "fallbacks"});
  TargetSettings target;
  target.max_perplexity_increase =
      reader.Number("max_perplexity_increase").value_or(0.0);
  target.min_cosine = reader.Number("min_cosine").value_or(0.0);
  if (const nlohmann::json* fallbacks = reader.Array("fallbacks")) {
    for (size_t i = 0; i < fallbacks->size(); ++i) {
      target.fallbacks.push_back(ParseCandidate(
          (*fallbacks)[i], contract::FallbackField(i), job_scheme));
    }
  }
  return target;
}

// Group sizes dividing every Linear's input dimension and exports able to
// hold `scheme` on this model; fields under `prefix`.
void CheckSchemeOnModel(const quant::QuantScheme& scheme,
                        const io::ModelConfig& config, const JobSpec& spec,
                        const std::string& prefix) {
  const int64_t attention = config.num_heads * config.head_dim;
  const std::pair<int64_t, const char*> dims[] = {
      {config.hidden_size, "hidden_size"},
      {config.intermediate_size, "intermediate_size"},
      {attention, "num_heads * head_dim"}};
  auto check_group = [&](const quant::QuantConfig& quant,
                         const std::string& field) {
    if (!quant.enabled || quant.granularity != quant::Granularity::kPerGroup) {
      return;
    }
    for (const auto& [dim, name] : dims) {
      if (dim % quant.group_size != 0) {
        throw SpecError(prefix + field,
                        c10::str(quant.group_size, " does not divide ", name,
                                 " (", dim, ")"));
      }
    }
  };
  check_group(scheme.weight, "scheme.weights.group_size");
  check_group(scheme.activation, "scheme.activations.group_size");
  // The export formats that cannot hold this scheme or model (quantd
  // refuses them at submit by the same rule; this is for specs given to
  // the engine directly).
  contract::ModelFacts facts;
  facts.llama_family = config.architecture == io::Architecture::kLlama;
  facts.architecture = facts.llama_family && !config.model_type.empty()
                           ? config.model_type
                           : io::ArchitectureName(config.architecture);
  facts.gguf_source = spec.model_path.extension() == ".gguf";
  for (const std::string& name : spec.export_formats) {
    try {
      contract::CheckExportable(*contract::ParseExportFormat(name), scheme.name,
                                quant::ToContract(scheme.weight),
                                quant::ToContract(scheme.activation), facts);
    } catch (const contract::ContractError& error) {
      throw SpecError(prefix + error.field(), error.what());
    }
  }
}

// Scheduling fields the engine ignores; only their JSON types are checked.
void CheckSchedulingFields(const SpecReader& reader) {
  reader.Integer("priority", -100, 100);
  reader.Object("labels");
  reader.Object("resources");
  reader.Object("retry");
  reader.String("deadline");
}

}  // namespace

SpecError::SpecError(std::string field, const std::string& problem)
    : std::runtime_error(field.empty() ? problem : field + ": " + problem),
      field_(std::move(field)) {}

JobSpec ParseJobSpec(const nlohmann::json& document,
                     const SpecDefaults& defaults) {
  SpecReader reader(document, "",
                    {"model", "method", "scheme", "method_params",
                     "calibration", "evaluation", "export_formats", "priority",
                     "labels", "resources", "deadline", "retry", "target"});
  CheckSchedulingFields(reader);
  JobSpec spec;
  const nlohmann::json* model = reader.Object("model");
  if (model == nullptr) throw SpecError("model", "required");
  spec.model_path = DataRefPath(*model, "model");
  spec.method = reader.String("method").value_or("");
  CheckRecipeStages(spec.method, "");
  const nlohmann::json* scheme = reader.Object("scheme");
  if (scheme == nullptr) throw SpecError("scheme", "required");
  spec.scheme = internal::ParseSchemeSpec(*scheme);
  spec.stages =
      ParseStages(spec.method, reader.Object("method_params"), spec.scheme, "");
  if (const nlohmann::json* target = reader.Object("target")) {
    spec.target = ParseTarget(*target, spec.scheme);
  }
  spec.calibration = ParseCalibration(reader.Object("calibration"), defaults);
  spec.evaluation = ParseEvaluation(reader.Object("evaluation"), defaults);
  try {
    contract::CheckCalibrationSize(spec.calibration.n_samples,
                                   spec.calibration.seq_len,
                                   spec.evaluation.seq_len);
  } catch (const contract::ContractError& error) {
    throw SpecError(error.field(), error.what());
  }
  if (!spec.evaluation.skip &&
      std::filesystem::equivalent(spec.evaluation.dataset,
                                  spec.calibration.dataset)) {
    throw SpecError("evaluation.dataset", "must not be the calibration text");
  }
  spec.export_formats = ParseExportFormats(reader);
  return spec;
}

JobSpec ReadJobSpec(const std::filesystem::path& path,
                    const SpecDefaults& defaults) {
  std::ifstream in(path);
  if (!in) throw SpecError("", "cannot read job spec " + path.string());
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json document = nlohmann::json::parse(text.str(), nullptr,
                                                  /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    throw SpecError("", path.string() + " is not valid JSON");
  }
  return ParseJobSpec(document, defaults);
}

void ValidateAgainstModel(JobSpec& spec, const io::ModelConfig& config) {
  const bool encoder = config.architecture == io::Architecture::kBert;
  const int64_t default_len = encoder ? contract::kDefaultEncoderSeqLen
                                      : contract::kDefaultDecoderSeqLen;
  const int64_t max_positions = config.max_position_embeddings;
  auto check_len = [&](int64_t& len, const char* field) {
    if (len == 0) {
      len = max_positions > 0 ? std::min(default_len, max_positions)
                              : default_len;
    }
    if (max_positions > 0 && len > max_positions) {
      throw SpecError(field, c10::str(len,
                                      " exceeds the model's "
                                      "max_position_embeddings ",
                                      max_positions));
    }
  };
  check_len(spec.calibration.seq_len, "calibration.seq_len");
  check_len(spec.evaluation.seq_len, "evaluation.seq_len");
  // Checked here, before any work, rather than by the evaluation at the
  // end of a job that has already quantized every block.
  try {
    contract::CheckEvaluationBudget(spec.evaluation.max_tokens,
                                    spec.evaluation.seq_len);
  } catch (const contract::ContractError& error) {
    throw SpecError(error.field(), error.what());
  }
  CheckSchemeOnModel(spec.scheme, config, spec, "");
  if (!spec.target) return;
  try {
    contract::CheckTarget(
        {spec.target->max_perplexity_increase, spec.target->min_cosine},
        spec.target->fallbacks.size(), encoder, spec.evaluation.skip);
  } catch (const contract::ContractError& error) {
    throw SpecError(error.field(), error.what());
  }
  for (size_t i = 0; i < spec.target->fallbacks.size(); ++i) {
    CheckSchemeOnModel(spec.target->fallbacks[i].scheme, config, spec,
                       contract::FallbackField(i) + ".");
  }
}

std::vector<JobSpec> AttemptSpecs(const JobSpec& spec) {
  JobSpec own = spec;
  own.target.reset();
  std::vector<JobSpec> attempts{own};
  if (!spec.target) return attempts;
  for (const Candidate& candidate : spec.target->fallbacks) {
    JobSpec attempt = own;
    attempt.method = candidate.method;
    attempt.stages = candidate.stages;
    attempt.scheme = candidate.scheme;
    attempts.push_back(std::move(attempt));
  }
  return attempts;
}

void HashDatasets(JobSpec& spec) {
  spec.calibration.dataset_sha256 =
      contract::Sha256FileHex(spec.calibration.dataset);
  if (!spec.evaluation.skip) {
    spec.evaluation.dataset_sha256 =
        contract::Sha256FileHex(spec.evaluation.dataset);
  }
}

nlohmann::json CanonicalSpec(const JobSpec& spec) {
  // A single method's parameters flat, as before recipes (the same hash);
  // a recipe's by stage.
  nlohmann::json params = nlohmann::json::object();
  if (spec.stages.size() == 1) {
    params = spec.stages.front().params.values();
  } else {
    for (const methods::RecipeStage& stage : spec.stages) {
      params[stage.info->name] = stage.params.values();
    }
  }
  return {
      {"method", spec.method},
      {"method_params", params},
      {"scheme",
       {{"name", spec.scheme.name},
        {"weights", methods::QuantConfigToJson(spec.scheme.weight)},
        {"activations", methods::QuantConfigToJson(spec.scheme.activation)}}},
      {"calibration",
       {{"dataset_sha256", spec.calibration.dataset_sha256},
        {"n_samples", spec.calibration.n_samples},
        {"seq_len", spec.calibration.seq_len},
        {"seed", spec.calibration.seed}}},
      {"evaluation",
       {{"dataset_sha256", spec.evaluation.dataset_sha256},
        {"seq_len", spec.evaluation.seq_len},
        {"max_tokens", spec.evaluation.max_tokens},
        {"skip", spec.evaluation.skip}}},
      {"export_formats", spec.export_formats}};
}

std::string SpecSha256(const JobSpec& spec) {
  contract::Sha256 hash;
  hash.Update(CanonicalSpec(spec).dump());
  return hash.FinishHex();
}

}  // namespace quantd::engine::pipeline
