#include "client/quantctl/spec_flags.h"

#include "absl/strings/str_cat.h"
#include "client/quantctl/flag_values.h"
#include "client/quantctl/proto_names.h"
#include "common/status.h"
#include "contract/method_catalogue.h"

namespace quantd::client {
namespace {

constexpr int64_t kMaxSamples = 4096;
constexpr int64_t kMinSeqLen = 8;
constexpr int64_t kMaxSeqLen = 32768;
constexpr size_t kMaxRequestIdLength = 128;

// Parses `text` into `ref` and records a local path for upload.
absl::Status AddSource(const std::string& text, const std::string& field,
                       const std::string& flag, const std::string& kind,
                       quantd::v1::DataRef* ref, SubmitPlan* plan) {
  QUANTD_ASSIGN_OR_RETURN(DataSource source, ParseDataSource(text, flag));
  *ref = source.ref;
  if (!source.local_path.empty()) {
    plan->local_inputs.push_back({field, flag, kind, source.local_path});
  }
  return absl::OkStatus();
}

absl::Status FillCalibration(const SubmitFlags& flags, SubmitPlan* plan) {
  auto* calibration = plan->request.mutable_spec()->mutable_calibration();
  if (!flags.calib_data.empty()) {
    QUANTD_RETURN_IF_ERROR(AddSource(flags.calib_data, "calibration.dataset",
                                     "--calib-data", "dataset",
                                     calibration->mutable_dataset(), plan));
  }
  if (!flags.samples.empty()) {
    QUANTD_ASSIGN_OR_RETURN(
        int64_t samples,
        ParseIntFlag(flags.samples, "--samples", 1, kMaxSamples));
    calibration->set_n_samples(static_cast<uint32_t>(samples));
  }
  if (!flags.seq_len.empty()) {
    QUANTD_ASSIGN_OR_RETURN(
        int64_t seq_len,
        ParseIntFlag(flags.seq_len, "--seq-len", kMinSeqLen, kMaxSeqLen));
    calibration->set_seq_len(static_cast<uint32_t>(seq_len));
  }
  if (!flags.seed.empty()) {
    QUANTD_ASSIGN_OR_RETURN(uint64_t seed, ParseUintFlag(flags.seed, "--seed"));
    calibration->set_seed(seed);
  }
  return absl::OkStatus();
}

absl::Status FillEvaluation(const SubmitFlags& flags, SubmitPlan* plan) {
  auto* evaluation = plan->request.mutable_spec()->mutable_evaluation();
  if (flags.no_eval) {
    if (!flags.eval_data.empty() || !flags.eval_seq_len.empty() ||
        !flags.max_tokens.empty()) {
      return InvalidFieldError(
          "--no-eval",
          "conflicts with --eval-data, --eval-seq-len and --max-tokens");
    }
    evaluation->set_skip(true);
    return absl::OkStatus();
  }
  if (!flags.eval_data.empty()) {
    QUANTD_RETURN_IF_ERROR(AddSource(flags.eval_data, "evaluation.dataset",
                                     "--eval-data", "dataset",
                                     evaluation->mutable_dataset(), plan));
  }
  if (!flags.eval_seq_len.empty()) {
    QUANTD_ASSIGN_OR_RETURN(int64_t seq_len,
                            ParseIntFlag(flags.eval_seq_len, "--eval-seq-len",
                                         kMinSeqLen, kMaxSeqLen));
    evaluation->set_seq_len(static_cast<uint32_t>(seq_len));
  }
  if (!flags.max_tokens.empty()) {
    QUANTD_ASSIGN_OR_RETURN(uint64_t tokens,
                            ParseUintFlag(flags.max_tokens, "--max-tokens"));
    evaluation->set_max_tokens(tokens);
  }
  return absl::OkStatus();
}

absl::Status FillScheduling(const SubmitFlags& flags, SubmitPlan* plan) {
  quantd::v1::JobSpec& spec = *plan->request.mutable_spec();
  QUANTD_ASSIGN_OR_RETURN(auto labels, ParseLabels(flags.labels, "--label"));
  spec.mutable_labels()->insert(labels.begin(), labels.end());
  if (!flags.priority.empty()) {
    QUANTD_ASSIGN_OR_RETURN(
        int64_t priority,
        ParseIntFlag(flags.priority, "--priority", -100, 100));
    spec.set_priority(static_cast<int32_t>(priority));
  }
  if (!flags.device.empty()) {
    if (flags.device != "cuda" && flags.device != "cpu") {
      return InvalidFieldError(
          "--device",
          absl::StrCat("must be cuda or cpu, got \"", flags.device, "\""));
    }
    spec.mutable_resources()->set_device(flags.device);
  }
  if (!flags.max_attempts.empty()) {
    QUANTD_ASSIGN_OR_RETURN(
        int64_t attempts,
        ParseIntFlag(flags.max_attempts, "--max-attempts", 1, 10));
    spec.mutable_retry()->set_max_attempts(static_cast<uint32_t>(attempts));
  }
  return absl::OkStatus();
}

// --max-ppl-increase / --min-cosine and --fallback METHOD[@PRESET]; the
// bound's range and every fallback are checked by quantd at submit.
absl::Status FillTarget(const SubmitFlags& flags, quantd::v1::JobSpec& spec) {
  if (flags.max_ppl_increase.empty() && flags.min_cosine.empty()) {
    if (!flags.fallbacks.empty()) {
      return InvalidFieldError(
          "--fallback", "needs a target: --max-ppl-increase or --min-cosine");
    }
    return absl::OkStatus();
  }
  quantd::v1::AccuracyTarget& target = *spec.mutable_target();
  if (!flags.max_ppl_increase.empty()) {
    QUANTD_ASSIGN_OR_RETURN(
        double value,
        ParseDoubleFlag(flags.max_ppl_increase, "--max-ppl-increase"));
    target.set_max_perplexity_increase(value);
  }
  if (!flags.min_cosine.empty()) {
    QUANTD_ASSIGN_OR_RETURN(double value,
                            ParseDoubleFlag(flags.min_cosine, "--min-cosine"));
    target.set_min_cosine(value);
  }
  for (const std::string& fallback : flags.fallbacks) {
    quantd::v1::Candidate& candidate = *target.add_fallbacks();
    const size_t at = fallback.find('@');
    candidate.set_method(fallback.substr(0, at));
    if (at != std::string::npos) {
      candidate.mutable_scheme()->set_preset(fallback.substr(at + 1));
    }
  }
  return absl::OkStatus();
}

absl::Status FillMethod(const SubmitFlags& flags, SubmitPlan* plan) {
  quantd::v1::JobSpec& spec = *plan->request.mutable_spec();
  if (flags.method.empty()) {
    return InvalidFieldError(
        "--method", absl::StrCat("required (", contract::MethodNames(), ")"));
  }
  spec.set_method(flags.method);
  QUANTD_ASSIGN_OR_RETURN(*spec.mutable_scheme(), BuildScheme(flags.scheme));
  if (!flags.params.empty()) {
    QUANTD_ASSIGN_OR_RETURN(*spec.mutable_method_params(),
                            ParseParams(flags.params, "--param"));
  }
  for (const std::string& name : flags.exports) {
    QUANTD_ASSIGN_OR_RETURN(auto format, ParseExportFormat(name, "--export"));
    spec.add_export_formats(format);
  }
  return FillTarget(flags, spec);
}

}  // namespace

absl::StatusOr<SubmitPlan> BuildSubmitPlan(const SubmitFlags& flags) {
  SubmitPlan plan;
  if (flags.request_id.empty() ||
      flags.request_id.size() > kMaxRequestIdLength) {
    return InvalidFieldError(
        "--request-id",
        absl::StrCat("must be 1..", kMaxRequestIdLength, " characters"));
  }
  plan.request.set_request_id(flags.request_id);
  if (flags.model.empty()) return InvalidFieldError("MODEL", "required");
  QUANTD_RETURN_IF_ERROR(AddSource(flags.model, "model", "MODEL", "model",
                                   plan.request.mutable_spec()->mutable_model(),
                                   &plan));
  QUANTD_RETURN_IF_ERROR(FillMethod(flags, &plan));
  QUANTD_RETURN_IF_ERROR(FillCalibration(flags, &plan));
  QUANTD_RETURN_IF_ERROR(FillEvaluation(flags, &plan));
  QUANTD_RETURN_IF_ERROR(FillScheduling(flags, &plan));
  return plan;
}

quantd::v1::DataRef* MutableDataRef(quantd::v1::JobSpec& spec,
                                    const std::string& field) {
  if (field == "calibration.dataset") {
    return spec.mutable_calibration()->mutable_dataset();
  }
  if (field == "evaluation.dataset") {
    return spec.mutable_evaluation()->mutable_dataset();
  }
  return spec.mutable_model();
}

}  // namespace quantd::client
