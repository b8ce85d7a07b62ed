#include "server/scheduler/spec_validator.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/sha256.h"
#include "common/status.h"
#include "contract/contract_error.h"
#include "contract/export_format.h"
#include "contract/method_catalogue.h"
#include "contract/scheme_preset.h"

namespace quantd::scheduler {
namespace {

using quantd::v1::DataRef;
using quantd::v1::Granularity;
using quantd::v1::JobSpec;
using quantd::v1::QuantScheme;
using quantd::v1::TensorQuant;

constexpr uint32_t kDefaultSamples = 128;
constexpr uint32_t kDefaultLlmSeqLen = 2048;
constexpr uint32_t kDefaultEncoderSeqLen = 128;
constexpr uint32_t kDefaultEvalSeqLen = 2048;
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

// Overwrites `base` with the fields `over` sets to a non-default value.
void MergeTensorQuant(const TensorQuant& over, TensorQuant& base) {
  if (over.bits() != 0) base.set_bits(over.bits());
  if (over.symmetric()) base.set_symmetric(true);
  if (over.granularity() != quantd::v1::GRANULARITY_UNSPECIFIED) {
    base.set_granularity(over.granularity());
  }
  if (over.group_size() != 0) base.set_group_size(over.group_size());
  if (over.dynamic()) base.set_dynamic(true);
  if (!over.observer().empty()) base.set_observer(over.observer());
  if (over.enabled()) base.set_enabled(true);
}

absl::Status CheckTensorQuant(TensorQuant& quant, const std::string& field,
                              bool is_weights, const ModelInfo& model) {
  if (quant.bits() != 0) quant.set_enabled(true);
  if (!quant.enabled()) {
    quant.Clear();
    return absl::OkStatus();
  }
  QUANTD_RETURN_IF_ERROR(InRange(field + ".bits", quant.bits(), 2, 8));
  Granularity granularity = quant.granularity();
  if (granularity == quantd::v1::GRANULARITY_UNSPECIFIED) {
    granularity = is_weights ? quantd::v1::GRANULARITY_PER_CHANNEL
                             : quantd::v1::GRANULARITY_PER_TENSOR;
    quant.set_granularity(granularity);
  }
  if (!Granularity_IsValid(granularity)) {
    return InvalidFieldError(field + ".granularity", "unknown value");
  }
  if (is_weights && granularity == quantd::v1::GRANULARITY_PER_TOKEN) {
    return InvalidFieldError(field + ".granularity",
                             "GRANULARITY_PER_TOKEN applies to activations");
  }
  if (granularity == quantd::v1::GRANULARITY_PER_TOKEN) quant.set_dynamic(true);
  const std::string group_field = field + ".group_size";
  if (granularity != quantd::v1::GRANULARITY_PER_GROUP) {
    if (quant.group_size() != 0) {
      return InvalidFieldError(group_field,
                               "must be 0 unless granularity is PER_GROUP");
    }
  } else {
    if (quant.group_size() == 0) {
      return InvalidFieldError(group_field, "required for PER_GROUP");
    }
    // Weights and activations are grouped along the input dimension of a
    // linear layer: the hidden size, or the intermediate one (down_proj).
    for (uint64_t dim : {model.hidden_size, model.intermediate_size}) {
      if (dim != 0 && dim % quant.group_size() != 0) {
        return InvalidFieldError(
            group_field,
            absl::StrCat(quant.group_size(),
                         " does not divide the model's dimension ", dim));
      }
    }
  }
  static const std::set<std::string> kObservers = {
      "",         "minmax", "avg_minmax",         "ema_minmax",
      "quantile", "mse",    "token_pruned_minmax"};
  if (kObservers.count(quant.observer()) == 0) {
    return InvalidFieldError(
        field + ".observer",
        absl::StrCat("unknown observer \"", quant.observer(), "\""));
  }
  return absl::OkStatus();
}

// Validates the scheme through its expansion and returns that expansion
// with the defaults filled in. The spec keeps the scheme as submitted: the
// engine expands the preset itself, from the same contract/ mapping, and
// applies explicit fields over it.
absl::StatusOr<QuantScheme> CheckScheme(const QuantScheme& scheme,
                                        const ModelInfo& model) {
  if (scheme.preset().empty() && !scheme.has_weights() &&
      !scheme.has_activations()) {
    return InvalidFieldError("scheme",
                             "required: a preset or weights/activations");
  }
  QUANTD_ASSIGN_OR_RETURN(QuantScheme effective, EffectiveScheme(scheme));
  QUANTD_RETURN_IF_ERROR(CheckTensorQuant(*effective.mutable_weights(),
                                          "scheme.weights", true, model));
  QUANTD_RETURN_IF_ERROR(CheckTensorQuant(*effective.mutable_activations(),
                                          "scheme.activations", false, model));
  if (!effective.weights().enabled() && !effective.activations().enabled()) {
    return InvalidFieldError("scheme", "quantizes nothing");
  }
  return effective;
}

absl::Status CheckCalibration(JobSpec& spec, const ModelInfo& model,
                              const ValidationContext& context,
                              std::vector<std::string>& blobs) {
  auto* calibration = spec.mutable_calibration();
  if (calibration->n_samples() == 0)
    calibration->set_n_samples(kDefaultSamples);
  QUANTD_RETURN_IF_ERROR(
      InRange("calibration.n_samples", calibration->n_samples(), 1, 4096));
  if (calibration->seq_len() == 0) {
    calibration->set_seq_len(model.is_encoder ? kDefaultEncoderSeqLen
                                              : kDefaultLlmSeqLen);
  }
  QUANTD_RETURN_IF_ERROR(
      InRange("calibration.seq_len", calibration->seq_len(), 8, 32768));
  auto* evaluation = spec.mutable_evaluation();
  if (evaluation->seq_len() == 0) evaluation->set_seq_len(kDefaultEvalSeqLen);
  QUANTD_RETURN_IF_ERROR(
      InRange("evaluation.seq_len", evaluation->seq_len(), 8, 32768));
  // The engine evaluates whole windows: a smaller budget than one window
  // would fail the job at its very end, after the whole quantization.
  if (evaluation->max_tokens() != 0 &&
      evaluation->max_tokens() < evaluation->seq_len()) {
    return InvalidFieldError(
        "evaluation.max_tokens",
        absl::StrCat("must be 0 (all) or at least evaluation.seq_len (",
                     evaluation->seq_len(), "), got ",
                     evaluation->max_tokens()));
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

Granularity ProtoGranularity(contract::Granularity granularity) {
  switch (granularity) {
    case contract::Granularity::kPerTensor:
      return quantd::v1::GRANULARITY_PER_TENSOR;
    case contract::Granularity::kPerChannel:
      return quantd::v1::GRANULARITY_PER_CHANNEL;
    case contract::Granularity::kPerToken:
      return quantd::v1::GRANULARITY_PER_TOKEN;
    case contract::Granularity::kPerGroup:
      return quantd::v1::GRANULARITY_PER_GROUP;
  }
  return quantd::v1::GRANULARITY_UNSPECIFIED;
}

contract::Granularity ContractGranularity(Granularity granularity) {
  switch (granularity) {
    case quantd::v1::GRANULARITY_PER_CHANNEL:
      return contract::Granularity::kPerChannel;
    case quantd::v1::GRANULARITY_PER_TOKEN:
      return contract::Granularity::kPerToken;
    case quantd::v1::GRANULARITY_PER_GROUP:
      return contract::Granularity::kPerGroup;
    default:
      return contract::Granularity::kPerTensor;
  }
}

// A preset's settings for one class of tensors, as the API spells them.
TensorQuant ProtoTensorQuant(const contract::TensorScheme& tensor) {
  TensorQuant quant;
  if (!tensor.enabled) return quant;  // bits 0, enabled false: FP.
  quant.set_enabled(true);
  quant.set_bits(static_cast<uint32_t>(tensor.bits));
  quant.set_symmetric(tensor.symmetric);
  quant.set_granularity(ProtoGranularity(tensor.granularity));
  quant.set_group_size(static_cast<uint32_t>(tensor.group_size));
  quant.set_dynamic(tensor.dynamic);
  quant.set_observer(tensor.observer == contract::PresetObserver::kAvgMinMax
                         ? "avg_minmax"
                         : "minmax");
  return quant;
}

// A checked effective TensorQuant as the export rule reads it (the rule
// does not look at the observer).
contract::TensorScheme ContractTensorScheme(const TensorQuant& quant) {
  contract::TensorScheme tensor;
  if (!quant.enabled()) return tensor;
  tensor.enabled = true;
  tensor.bits = static_cast<int>(quant.bits());
  tensor.symmetric = quant.symmetric();
  tensor.granularity = ContractGranularity(quant.granularity());
  tensor.group_size = quant.group_size();
  tensor.dynamic = quant.dynamic();
  return tensor;
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
absl::Status CheckExports(const JobSpec& spec, const QuantScheme& effective,
                          const ModelInfo& model) {
  const std::string scheme_name =
      spec.scheme().preset().empty() ? "custom" : spec.scheme().preset();
  const contract::TensorScheme weights =
      ContractTensorScheme(effective.weights());
  const contract::TensorScheme activations =
      ContractTensorScheme(effective.activations());
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
      raw.text = "an object";
      break;
    default:
      raw.text = "null";
      break;
  }
  return raw;
}

// method_params against the method catalogue and the effective scheme,
// at submit rather than after a worker leased the job.
absl::Status CheckMethodParams(const JobSpec& spec,
                               const QuantScheme& effective) {
  std::vector<std::pair<std::string, contract::RawParam>> params;
  for (const auto& [key, value] : spec.method_params().fields()) {
    params.emplace_back(key, RawParamOf(value));
  }
  // Struct fields are a map: sort so the first bad key is always the same.
  std::sort(params.begin(), params.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  const contract::SchemeFacts facts{
      spec.scheme().preset().empty() ? "custom" : spec.scheme().preset(),
      ContractTensorScheme(effective.weights()),
      ContractTensorScheme(effective.activations())};
  try {
    contract::CheckMethodParams(spec.method(), params, facts);
  } catch (const contract::ContractError& error) {
    return InvalidFieldError(error.field(), error.what());
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

absl::Status ExpandPreset(const std::string& preset, QuantScheme& scheme) {
  contract::SchemePreset parsed;
  try {
    parsed = contract::ParseSchemePreset(preset);
  } catch (const contract::ContractError& error) {
    // Whichever part of the name is at fault (bits, suffix, group size),
    // the field is the preset; the message quotes it and says which part.
    return InvalidFieldError("scheme.preset", error.what());
  }
  *scheme.mutable_weights() = ProtoTensorQuant(parsed.weights);
  *scheme.mutable_activations() = ProtoTensorQuant(parsed.activations);
  return absl::OkStatus();
}

absl::StatusOr<QuantScheme> EffectiveScheme(const QuantScheme& scheme) {
  QuantScheme effective;
  effective.set_preset(scheme.preset());
  if (!scheme.preset().empty()) {
    QUANTD_RETURN_IF_ERROR(ExpandPreset(scheme.preset(), effective));
  }
  MergeTensorQuant(scheme.weights(), *effective.mutable_weights());
  MergeTensorQuant(scheme.activations(), *effective.mutable_activations());
  // Explicit bits enable a tensor, as the engine reads them.
  for (TensorQuant* quant :
       {effective.mutable_weights(), effective.mutable_activations()}) {
    if (quant->bits() != 0) quant->set_enabled(true);
  }
  return effective;
}

std::string WeightBitsLabel(const JobSpec& spec) {
  absl::StatusOr<QuantScheme> effective = EffectiveScheme(spec.scheme());
  if (!effective.ok() || !effective->weights().enabled()) return "fp";
  return absl::StrCat(effective->weights().bits());
}

absl::StatusOr<ValidatedSpec> ValidateSpec(const JobSpec& input,
                                           const ValidationContext& context) {
  ValidatedSpec out;
  out.spec = input;
  JobSpec& spec = out.spec;
  if (spec.method().empty()) return InvalidFieldError("method", "required");
  if (contract::FindMethodEntry(spec.method()) == nullptr) {
    return InvalidFieldError(
        "method",
        absl::StrCat("unknown method \"", spec.method(), "\"; expected one of ",
                     contract::MethodNames()));
  }
  std::string model_path;
  QUANTD_ASSIGN_OR_RETURN(
      std::string model_blob,
      CheckDataRef(spec.model(), "model", context, &model_path));
  if (!model_blob.empty()) out.input_blobs.push_back(model_blob);
  const std::string model_field =
      spec.model().has_blob() ? "model.blob" : "model.uri";
  QUANTD_ASSIGN_OR_RETURN(out.model, InspectModel(model_path, model_field));
  QUANTD_ASSIGN_OR_RETURN(QuantScheme effective,
                          CheckScheme(spec.scheme(), out.model));
  QUANTD_RETURN_IF_ERROR(CheckMethodParams(spec, effective));
  QUANTD_RETURN_IF_ERROR(
      CheckCalibration(spec, out.model, context, out.input_blobs));
  QUANTD_RETURN_IF_ERROR(CheckScheduling(spec, context));
  QUANTD_RETURN_IF_ERROR(CheckExports(spec, effective, out.model));
  return out;
}

}  // namespace quantd::scheduler
