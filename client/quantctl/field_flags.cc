#include "client/quantctl/field_flags.h"

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace quantd::client {
namespace {

struct FieldFlag {
  const char* field;
  const char* flag;
};

// Longest prefixes first is not required: FlagForField picks the longest.
constexpr FieldFlag kFieldFlags[] = {
    {"request_id", "--request-id"},
    {"model", "MODEL"},
    {"method", "--method"},
    {"scheme", "--scheme"},
    {"scheme.preset", "--scheme"},
    {"scheme.weights.bits", "--w-bits"},
    {"scheme.weights.granularity", "--w-granularity"},
    {"scheme.weights.group_size", "--group-size"},
    {"scheme.weights.symmetric", "--symmetric"},
    {"scheme.weights.observer", "--w-observer"},
    {"scheme.activations.bits", "--a-bits"},
    {"scheme.activations.granularity", "--a-granularity"},
    {"scheme.activations.symmetric", "--symmetric"},
    {"scheme.activations.dynamic", "--dynamic"},
    {"scheme.activations.observer", "--a-observer"},
    {"method_params", "--param"},
    {"calibration.dataset", "--calib-data"},
    {"calibration.n_samples", "--samples"},
    {"calibration.seq_len", "--seq-len"},
    {"calibration.seed", "--seed"},
    {"evaluation.dataset", "--eval-data"},
    {"evaluation.seq_len", "--eval-seq-len"},
    {"evaluation.max_tokens", "--max-tokens"},
    {"evaluation.skip", "--no-eval"},
    {"export_formats", "--export"},
    {"priority", "--priority"},
    {"labels", "--label"},
    {"resources.device", "--device"},
    {"retry.max_attempts", "--max-attempts"},
    {"target.max_perplexity_increase", "--max-ppl-increase"},
    {"target.min_cosine", "--min-cosine"},
    {"target.fallbacks", "--fallback"},
};

// True when `prefix` is `field` or a dotted/indexed ancestor of it.
bool IsFieldPrefix(absl::string_view prefix, absl::string_view field) {
  if (!absl::StartsWith(field, prefix)) return false;
  if (field.size() == prefix.size()) return true;
  const char next = field[prefix.size()];
  return next == '.' || next == '[';
}

}  // namespace

std::string FlagForField(absl::string_view field) {
  for (absl::string_view prefix : {"spec.", "request."}) {
    if (absl::StartsWith(field, prefix)) field.remove_prefix(prefix.size());
  }
  const FieldFlag* best = nullptr;
  for (const FieldFlag& entry : kFieldFlags) {
    const absl::string_view name = entry.field;
    if (IsFieldPrefix(name, field) &&
        (best == nullptr ||
         name.size() > absl::string_view(best->field).size())) {
      best = &entry;
    }
  }
  if (best == nullptr) return "";
  if (absl::string_view(best->field) == "method_params" &&
      field.size() > sizeof("method_params")) {
    return absl::StrCat("--param ", field.substr(sizeof("method_params")));
  }
  return best->flag;
}

absl::Status PointAtFlag(const absl::Status& status) {
  const std::string field = FieldOfError(status);
  if (field.empty()) return status;
  const std::string flag = FlagForField(field);
  if (flag.empty()) return status;
  absl::string_view reason = status.message();
  reason.remove_prefix(field.size() + 2);
  return absl::InvalidArgumentError(
      absl::StrCat(flag, ": ", reason, " (", field, ")"));
}

}  // namespace quantd::client
