#include "server/scheduler/spec_validator.h"

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/sha256.h"
#include "common/status.h"

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
  if (!is_weights && granularity == quantd::v1::GRANULARITY_PER_GROUP) {
    return InvalidFieldError(field + ".granularity",
                             "GRANULARITY_PER_GROUP applies to weights");
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

// Validates the scheme through its expansion; the spec keeps the scheme as
// submitted, because the engine owns the preset table (its presets carry
// granularities, grids and observers this table does not spell out) and
// applies explicit fields over the preset itself.
absl::Status CheckScheme(const QuantScheme& scheme, const ModelInfo& model) {
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
  return absl::OkStatus();
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

}  // namespace

const std::vector<std::string>& KnownMethods() {
  static const auto* methods = new std::vector<std::string>{
      "rtn", "smoothquant", "os", "osplus", "omniquant"};
  return *methods;
}

absl::Status ExpandPreset(const std::string& preset, QuantScheme& scheme) {
  static const std::set<std::string> kBases = {
      "w8a8", "w8a8-pt", "w6a6", "w4a4", "w4a16", "w3a16", "w2a16"};
  std::string base = preset;
  uint32_t group_size = 0;
  if (const size_t dash = preset.find("-g"); dash != std::string::npos) {
    base = preset.substr(0, dash);
    if (!absl::SimpleAtoi(preset.substr(dash + 2), &group_size) ||
        group_size == 0 || base == "w8a8-pt") {
      return InvalidFieldError("scheme.preset",
                               absl::StrCat("bad group suffix in \"", preset,
                                            "\"; expected -g<N>, N > 0"));
    }
  }
  if (kBases.count(base) == 0) {
    return InvalidFieldError(
        "scheme.preset",
        absl::StrCat("unknown preset \"", preset, "\"; expected one of ",
                     absl::StrJoin(kBases, ", "), " (optionally -g<N>)"));
  }
  const uint32_t weight_bits = static_cast<uint32_t>(base[1] - '0');
  const uint32_t act_bits = absl::EndsWith(base, "a16") ? 0 : weight_bits;
  TensorQuant* weights = scheme.mutable_weights();
  weights->set_bits(weight_bits);
  weights->set_symmetric(true);
  weights->set_enabled(true);
  weights->set_granularity(base == "w8a8-pt"
                               ? quantd::v1::GRANULARITY_PER_TENSOR
                               : quantd::v1::GRANULARITY_PER_CHANNEL);
  if (group_size != 0) {
    weights->set_granularity(quantd::v1::GRANULARITY_PER_GROUP);
    weights->set_group_size(group_size);
  }
  TensorQuant* activations = scheme.mutable_activations();
  activations->set_enabled(act_bits != 0);
  activations->set_bits(act_bits);
  if (act_bits != 0) {
    activations->set_granularity(quantd::v1::GRANULARITY_PER_TENSOR);
  }
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
  const auto& methods = KnownMethods();
  if (std::find(methods.begin(), methods.end(), spec.method()) ==
      methods.end()) {
    return InvalidFieldError(
        "method",
        absl::StrCat("unknown method \"", spec.method(), "\"; expected one of ",
                     absl::StrJoin(methods, ", ")));
  }
  std::string model_path;
  QUANTD_ASSIGN_OR_RETURN(
      std::string model_blob,
      CheckDataRef(spec.model(), "model", context, &model_path));
  if (!model_blob.empty()) out.input_blobs.push_back(model_blob);
  const std::string model_field =
      spec.model().has_blob() ? "model.blob" : "model.uri";
  QUANTD_ASSIGN_OR_RETURN(out.model, InspectModel(model_path, model_field));
  QUANTD_RETURN_IF_ERROR(CheckScheme(spec.scheme(), out.model));
  QUANTD_RETURN_IF_ERROR(
      CheckCalibration(spec, out.model, context, out.input_blobs));
  QUANTD_RETURN_IF_ERROR(CheckScheduling(spec, context));
  return out;
}

}  // namespace quantd::scheduler
