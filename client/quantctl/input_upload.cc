#include "client/quantctl/input_upload.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/quantctl/blob_upload.h"
#include "client/quantctl/job_calls.h"
#include "client/quantctl/transfer_progress.h"
#include "common/status.h"

namespace quantd::client {
namespace {

absl::Status Upload(CommandContext& context, Connection& connection,
                    const LocalInput& input, SubmitPlan* plan) {
  TransferProgress progress(
      context.progress_stream(), context.progress_terminal(), "upload",
      std::filesystem::path(input.path).filename().string());
  QUANTD_ASSIGN_OR_RETURN(
      UploadResult uploaded,
      UploadFile(connection, input.path, input.kind, input.flag, progress));
  MutableDataRef(*plan->request.mutable_spec(), input.field)
      ->set_blob(uploaded.blob);
  return absl::OkStatus();
}

// The input whose field the server's error names ("model.uri: outside
// the allowed roots" names "model"), or nullptr.
const LocalInput* InputNamedBy(const absl::Status& status,
                               const std::vector<LocalInput>& inputs) {
  const std::string named = FieldOfError(status);
  absl::string_view field = named;
  if (absl::StartsWith(field, "spec.")) field.remove_prefix(5);
  for (const LocalInput& input : inputs) {
    if (absl::StartsWith(field, input.field) &&
        (field.size() == input.field.size() ||
         field[input.field.size()] == '.')) {
      return &input;
    }
  }
  return nullptr;
}

absl::Status ResolveAuto(CommandContext& context, Connection& connection,
                         SubmitPlan* plan) {
  std::vector<LocalInput> pending = plan->local_inputs;
  while (!pending.empty()) {
    quantd::v1::SubmitJobRequest probe = plan->request;
    probe.set_validate_only(true);
    auto checked = CallSubmitJob(connection, probe);
    if (checked.ok()) return absl::OkStatus();
    const LocalInput* input = InputNamedBy(checked.status(), pending);
    if (input == nullptr) return checked.status();
    std::error_code error;
    if (!std::filesystem::is_regular_file(input->path, error)) {
      return InvalidFieldError(
          input->flag,
          absl::StrCat("the server cannot use ", input->path, " (",
                       checked.status().message(),
                       ") and it is not a file here that could be uploaded"));
    }
    QUANTD_RETURN_IF_ERROR(Upload(context, connection, *input, plan));
    pending.erase(pending.begin() + (input - pending.data()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<UploadMode> ParseUploadMode(absl::string_view text) {
  if (text == "auto") return UploadMode::kAuto;
  if (text == "always") return UploadMode::kAlways;
  if (text == "never") return UploadMode::kNever;
  return InvalidFieldError(
      "--upload",
      absl::StrCat("must be one of {auto, always, never}, got \"", text, "\""));
}

absl::Status ResolveLocalInputs(CommandContext& context, Connection& connection,
                                UploadMode mode, SubmitPlan* plan) {
  switch (mode) {
    case UploadMode::kNever:
      return absl::OkStatus();
    case UploadMode::kAlways:
      for (const LocalInput& input : plan->local_inputs) {
        QUANTD_RETURN_IF_ERROR(Upload(context, connection, input, plan));
      }
      return absl::OkStatus();
    case UploadMode::kAuto:
      return ResolveAuto(context, connection, plan);
  }
  return absl::OkStatus();
}

}  // namespace quantd::client
