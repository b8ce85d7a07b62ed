#include "server/scheduler/spec_validator.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/sha256.h"
#include "common/status.h"
#include "contract/accuracy_target.h"
#include "contract/contract_error.h"
#include "contract/export_format.h"
#include "contract/job_limits.h"
#include "contract/method_catalogue.h"
#include "contract/recipe.h"
#include "contract/scheme_preset.h"

namespace quantd::scheduler {
namespace {

using quantd::v1::DataRef;
using quantd::v1::JobSpec;
using quantd::v1::QuantScheme;
using quantd::v1::TensorQuant;

constexpr uint32_t kDefaultMaxAttempts = 3;
constexpr size_t kMaxLabels = 32;
constexpr size_t kMaxLabelChars = 63;
constexpr int64_t kMinTimestampSeconds = -62'135'596'800;  // 0001-01-01
constexpr int64_t kMaxTimestampSeconds = 253'402'300'799;  // 9999-12-31

absl::Status InRange(const std::string& field, int64_t value, int64_t low,
                     int64_t high) {
  if (value < low || value > high) {
    return InvalidFieldError(
        field, absl::StrCat("must be in ", low, "..", high, ", got ", value));
  }
  return absl::OkStatus();
}

// Resolves a DataRef; returns the uploaded blob's hex (or "" for a URI).
absl::StatusOr<std::string> CheckDataRef(const DataRef& ref,
                                         const std::string& field,
                                         const ValidationContext& context,
                                         std::string* path) {
  if (ref.has_blob()) {
    QUANTD_ASSIGN_OR_RETURN(std::string hex,
                            ParseBlobRef(ref.blob(), field + ".blob"));
    std::optional<std::string> file =
        context.blob_path ? context.blob_path(hex) : std::nullopt;
    if (!file.has_value()) {
      return InvalidFieldError(field + ".blob",
                               "no such blob; upload it with UploadBlob first");
    }
    *path = *file;
    return hex;
  }
  if (ref.has_uri()) {
    if (context.roots == nullptr) {
      return InvalidFieldError(field + ".uri", "file:// URIs are disabled");
    }
    QUANTD_ASSIGN_OR_RETURN(*path,
                            context.roots->Resolve(ref.uri(), field + ".uri"));
    return std::string();
  }
  return InvalidFieldError(field, "required: set blob or uri");
}

absl::Status CheckCalibration(JobSpec& spec, const ModelInfo& model,
                              const ValidationContext& context,
                              std::vector<std::string>& blobs) {
  auto* calibration = spec.mutable_calibration();
  if (calibration->n_samples() == 0) {
    calibration->set_n_samples(contract::kDefaultSamples);
  }
  if (calibration->seq_len() == 0) {
    calibration->set_seq_len(model.is_encoder
                                 ? contract::kDefaultEncoderSeqLen
                                 : contract::kDefaultDecoderSeqLen);
  }
  auto* evaluation = spec.mutable_evaluation();
  if (evaluation->seq_len() == 0) {
    evaluation->set_seq_len(contract::kDefaultDecoderSeqLen);
  }
  try {
    contract::CheckCalibrationSize(calibration->n_samples(),
                                   calibration->seq_len(),
                                   evaluation->seq_len());
    contract::CheckEvaluationBudget(evaluation->max_tokens(),
                                    evaluation->seq_len());
  } catch (const contract::ContractError& error) {
    return InvalidFieldError(error.field(), error.what());
  }
  for (auto [ref, field] :
       {std::pair{&calibration->dataset(), "calibration.dataset"},
        std::pair{&evaluation->dataset(), "evaluation.dataset"}}) {
    if (ref->source_case() == DataRef::SOURCE_NOT_SET) continue;
    std::string path;
    QUANTD_ASSIGN_OR_RETURN(std::string hex,
                            CheckDataRef(*ref, field, context, &path));
    if (!hex.empty()) blobs.push_back(hex);
  }
  if (calibration->has_dataset() && evaluation->has_dataset() &&
      calibration->dataset().SerializeAsString() ==
          evaluation->dataset().SerializeAsString()) {
    return InvalidFieldError("evaluation.dataset",
                             "must differ from calibration.dataset");
  }
  return absl::OkStatus();
}

absl::Status CheckLabels(const JobSpec& spec) {
  if (spec.labels_size() > static_cast<int>(kMaxLabels)) {
    return InvalidFieldError("labels",
                             absl::StrCat("at most ", kMaxLabels, " labels"));
  }
  for (const auto& [key, value] : spec.labels()) {
    if (key.empty() || key.size() > kMaxLabelChars ||
        value.size() > kMaxLabelChars) {
      return InvalidFieldError(
          absl::StrCat("labels.", key.substr(0, kMaxLabelChars)),
          "keys must be 1..63 characters and values at most 63");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckDeadline(const google::protobuf::Timestamp& deadline,
                           int64_t now_ms) {
  // google.protobuf.Timestamp's range (0001-01-01 to 9999-12-31), which
  // also keeps the milliseconds below from overflowing.
  if (deadline.seconds() < kMinTimestampSeconds ||
      deadline.seconds() > kMaxTimestampSeconds || deadline.nanos() < 0 ||
      deadline.nanos() > 999'999'999) {
    return InvalidFieldError("deadline", "is not a valid timestamp");
  }
  const int64_t deadline_ms =
      deadline.seconds() * 1000 + deadline.nanos() / 1'000'000;
  if (deadline_ms <= now_ms) {
    return InvalidFieldError("deadline", "is already past");
  }
  return absl::OkStatus();
}

absl::Status CheckScheduling(JobSpec& spec, const ValidationContext& context) {
  QUANTD_RETURN_IF_ERROR(InRange("priority", spec.priority(), -100, 100));
  const std::string& device = spec.resources().device();
  if (!device.empty() && device != "cuda" && device != "cpu") {
    return InvalidFieldError("resources.device",
                             "must be \"cuda\", \"cpu\" or empty");
  }
  if (spec.retry().max_attempts() == 0) {
    spec.mutable_retry()->set_max_attempts(kDefaultMaxAttempts);
  }
  QUANTD_RETURN_IF_ERROR(
      InRange("retry.max_attempts", spec.retry().max_attempts(), 1, 10));
  if (spec.has_deadline()) {
    QUANTD_RETURN_IF_ERROR(CheckDeadline(spec.deadline(), context.now_ms));
  }
  std::set<int> formats;
  for (int format : spec.export_formats()) {
    if (format == quantd::v1::EXPORT_FORMAT_UNSPECIFIED ||
        !quantd::v1::ExportFormat_IsValid(format)) {
      return InvalidFieldError("export_formats",
                               absl::StrCat("unknown format ", format));
    }
    if (!formats.insert(format).second) {
      return InvalidFieldError("export_formats", "lists a format twice");
    }
  }
  if (spec.export_formats().empty()) {
    spec.add_export_formats(quantd::v1::EXPORT_FORMAT_HF_SAFETENSORS);
    spec.add_export_formats(quantd::v1::EXPORT_FORMAT_PACKED_INT);
  }
  return CheckLabels(spec);
}

// An explicit block as the contract reads it. proto3 cannot tell an unset
// field from a default one, so a default value is an unset field, as for
// the engine (spec.json omits defaults).
absl::StatusOr<contract::TensorOverride> OverrideOf(const TensorQuant& quant,
                                                    const std::string& field) {
  contract::TensorOverride over;
  if (quant.bits() != 0) over.bits = quant.bits();
  if (quant.enabled()) over.enabled = true;
  if (quant.symmetric()) over.symmetric = true;
  switch (quant.granularity()) {
    case quantd::v1::GRANULARITY_UNSPECIFIED:
      break;
    case quantd::v1::GRANULARITY_PER_TENSOR:
      over.granularity = contract::Granularity::kPerTensor;
      break;
    case quantd::v1::GRANULARITY_PER_CHANNEL:
      over.granularity = contract::Granularity::kPerChannel;
      break;
    case quantd::v1::GRANULARITY_PER_TOKEN:
      over.granularity = contract::Granularity::kPerToken;
      break;
    case quantd::v1::GRANULARITY_PER_GROUP:
      over.granularity = contract::Granularity::kPerGroup;
      break;
    default:
      return InvalidFieldError(field + ".granularity", "unknown value");
  }
  if (quant.group_size() != 0) over.group_size = quant.group_size();
  if (quant.dynamic()) over.dynamic = true;
  if (!quant.observer().empty()) over.observer = quant.observer();
  return over;
}

contract::ModelFacts ModelFactsOf(const ModelInfo& model) {
  contract::ModelFacts facts;
  facts.architecture = model.architecture.empty() ? "of unknown architecture"
                                                  : model.architecture;
  facts.llama_family = model.llama_family;
  facts.gguf_source = model.format == "gguf";
  return facts;
}

// Refuses, naming export_formats, a format that cannot hold this effective
// scheme on this model, as the engine would only after the whole job.
absl::Status CheckExports(const JobSpec& spec, const QuantScheme& scheme,
                          const contract::SchemePreset& effective,
                          const ModelInfo& model) {
  const std::string scheme_name =
      scheme.preset().empty() ? "custom" : scheme.preset();
  const contract::TensorScheme& weights = effective.weights;
  const contract::TensorScheme& activations = effective.activations;
  const contract::ModelFacts facts = ModelFactsOf(model);
  for (int value : spec.export_formats()) {
    const auto format =
        ContractExportFormat(static_cast<quantd::v1::ExportFormat>(value));
    if (!format.has_value()) {
      return absl::InternalError(
          absl::StrCat("export format ", value, " has no contract entry"));
    }
    try {
      contract::CheckExportable(*format, scheme_name, weights, activations,
                                facts);
    } catch (const contract::ContractError& error) {
      return InvalidFieldError("export_formats", error.what());
    }
  }
  return absl::OkStatus();
}

contract::RawParam RawParamOf(const google::protobuf::Value& value);

// A Struct's members as the catalogue reads them, sorted by key so that the
// first bad key is always the same (a Struct's fields are a map).
std::vector<std::pair<std::string, contract::RawParam>> RawParamsOf(
    const google::protobuf::Struct& object) {
  std::vector<std::pair<std::string, contract::RawParam>> params;
  for (const auto& [key, value] : object.fields()) {
    params.emplace_back(key, RawParamOf(value));
  }
  std::sort(params.begin(), params.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return params;
}

// A Struct value as the catalogue reads it.
contract::RawParam RawParamOf(const google::protobuf::Value& value) {
  contract::RawParam raw;
  switch (value.kind_case()) {
    case google::protobuf::Value::kBoolValue:
      raw.kind = contract::RawParam::Kind::kBool;
      raw.boolean = value.bool_value();
      raw.text = value.bool_value() ? "true" : "false";
      break;
    case google::protobuf::Value::kNumberValue:
      raw.kind = contract::RawParam::Kind::kNumber;
      raw.number = value.number_value();
      raw.text = absl::StrCat(value.number_value());
      break;
    case google::protobuf::Value::kStringValue:
      raw.text = absl::StrCat("\"", value.string_value(), "\"");
      break;
    case google::protobuf::Value::kListValue:
      raw.text = "a list";
      break;
    case google::protobuf::Value::kStructValue:
      raw.kind = contract::RawParam::Kind::kObject;
      raw.text = "an object";
      for (auto& [key, member] : RawParamsOf(value.struct_value())) {
        raw.members.push_back({key, std::move(member)});
      }
      break;
    default:
      raw.text = "null";
      break;
  }
  return raw;
}

// The recipe's stages and each stage's method_params against the method
// catalogue and the effective scheme, at submit rather than after a worker
// leased the job.
absl::Status CheckMethodParams(const std::string& method,
                               const google::protobuf::Struct& params,
                               const QuantScheme& scheme,
                               const contract::SchemePreset& effective) {
  const contract::SchemeFacts facts{
      scheme.preset().empty() ? "custom" : scheme.preset(), effective.weights,
      effective.activations};
  try {
    contract::CheckRecipe(method, RawParamsOf(params), facts);
  } catch (const contract::ContractError& error) {
    return InvalidFieldError(error.field(), error.what());
  }
  return absl::OkStatus();
}

// One attempt as the engine will run it: its method (or recipe), scheme,
// parameters and exports against the model. Errors name the attempt's
// fields (method, scheme.*, method_params.*, export_formats).
absl::Status CheckAttempt(const JobSpec& spec, const std::string& method,
                          const QuantScheme& scheme,
                          const google::protobuf::Struct& params,
                          const ModelInfo& model) {
  QUANTD_ASSIGN_OR_RETURN(contract::SchemePreset effective,
                          ResolveSpecScheme(scheme));
  try {
    contract::CheckGroupsDivide(effective, model.hidden_size,
                                model.intermediate_size);
  } catch (const contract::ContractError& error) {
    return InvalidFieldError(error.field(), error.what());
  }
  QUANTD_RETURN_IF_ERROR(CheckMethodParams(method, params, scheme, effective));
  return CheckExports(spec, scheme, effective, model);
}

// `status` with its field under `prefix` ("target.fallbacks[1].method").
absl::Status UnderField(const std::string& prefix, const absl::Status& status) {
  const std::string field = FieldOfError(status);
  if (field.empty()) return status;
  absl::string_view reason = status.message();
  reason.remove_prefix(std::min(reason.size(), field.size() + 2));
  return InvalidFieldError(absl::StrCat(prefix, ".", field), reason);
}

// The target's bound and every fallback as an attempt of its own.
absl::Status CheckTarget(const JobSpec& spec, const ModelInfo& model) {
  if (!spec.has_target()) return absl::OkStatus();
  const quantd::v1::AccuracyTarget& target = spec.target();
  try {
    contract::CheckTarget(
        {target.max_perplexity_increase(), target.min_cosine()},
        static_cast<size_t>(target.fallbacks_size()), model.is_encoder,
        spec.evaluation().skip());
  } catch (const contract::ContractError& error) {
    return InvalidFieldError(error.field(), error.what());
  }
  for (int i = 0; i < target.fallbacks_size(); ++i) {
    const quantd::v1::Candidate& candidate = target.fallbacks(i);
    const std::string prefix = contract::FallbackField(static_cast<size_t>(i));
    try {
      contract::ParseRecipe(candidate.method());
    } catch (const contract::ContractError& error) {
      return InvalidFieldError(absl::StrCat(prefix, ".", error.field()),
                               error.what());
    }
    const absl::Status status = CheckAttempt(
        spec, candidate.method(),
        candidate.has_scheme() ? candidate.scheme() : spec.scheme(),
        candidate.method_params(), model);
    if (!status.ok()) return UnderField(prefix, status);
  }
  return absl::OkStatus();
}

}  // namespace

std::optional<contract::ExportFormat> ContractExportFormat(
    quantd::v1::ExportFormat format) {
  const std::string& name = quantd::v1::ExportFormat_Name(format);
  for (const contract::ExportFormatInfo& info : contract::ExportFormats()) {
    if (name == info.proto_name) return info.format;
  }
  return std::nullopt;
}

absl::StatusOr<contract::SchemePreset> ResolveSpecScheme(
    const QuantScheme& scheme) {
  contract::SchemeRequest request;
  request.preset = scheme.preset();
  if (scheme.has_weights()) {
    QUANTD_ASSIGN_OR_RETURN(request.weights,
                            OverrideOf(scheme.weights(), "scheme.weights"));
  }
  if (scheme.has_activations()) {
    QUANTD_ASSIGN_OR_RETURN(
        request.activations,
        OverrideOf(scheme.activations(), "scheme.activations"));
  }
  try {
    return contract::ResolveScheme(request);
  } catch (const contract::ContractError& error) {
    return InvalidFieldError(error.field(), error.what());
  }
}

std::string WeightBitsLabel(const JobSpec& spec) {
  absl::StatusOr<contract::SchemePreset> effective =
      ResolveSpecScheme(spec.scheme());
  if (!effective.ok() || !effective->weights.enabled) return "fp";
  return absl::StrCat(effective->weights.bits);
}

absl::StatusOr<ValidatedSpec> ValidateSpec(const JobSpec& input,
                                           const ValidationContext& context) {
  ValidatedSpec out;
  out.spec = input;
  JobSpec& spec = out.spec;
  try {
    contract::ParseRecipe(spec.method());
  } catch (const contract::ContractError& error) {
    return InvalidFieldError(error.field(), error.what());
  }
  std::string model_path;
  QUANTD_ASSIGN_OR_RETURN(
      std::string model_blob,
      CheckDataRef(spec.model(), "model", context, &model_path));
  if (!model_blob.empty()) out.input_blobs.push_back(model_blob);
  const std::string model_field =
      spec.model().has_blob() ? "model.blob" : "model.uri";
  QUANTD_ASSIGN_OR_RETURN(out.model,
                          context.inspect_model(model_path, model_field));
  QUANTD_RETURN_IF_ERROR(
      CheckCalibration(spec, out.model, context, out.input_blobs));
  QUANTD_RETURN_IF_ERROR(CheckScheduling(spec, context));
  QUANTD_RETURN_IF_ERROR(CheckAttempt(spec, spec.method(), spec.scheme(),
                                      spec.method_params(), out.model));
  QUANTD_RETURN_IF_ERROR(CheckTarget(spec, out.model));
  return out;
}

}  // namespace quantd::scheduler
