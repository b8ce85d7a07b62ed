#include "worker/agent/job_outcome.h"

#include "absl/strings/str_cat.h"

namespace quantd::agent {
namespace {

quantd::v1::CompleteJobRequest Failed(int code, absl::string_view message,
                                      absl::string_view field) {
  quantd::v1::CompleteJobRequest request;
  request.set_state(quantd::v1::JOB_STATE_FAILED);
  request.mutable_error()->set_code(code);
  request.mutable_error()->set_message(std::string(message));
  request.mutable_error()->set_field(std::string(field));
  return request;
}

std::string WithDetails(absl::string_view message, const ExitStatus& exit,
                        absl::string_view stderr_tail) {
  std::string text = absl::StrCat(message, " (engine ", exit.Describe(), ")");
  if (!stderr_tail.empty()) {
    absl::StrAppend(&text, "\nlast lines of the engine's stderr:\n",
                    stderr_tail);
  }
  return text;
}

quantd::v1::CompleteJobRequest EngineFailed(const ExitStatus& exit,
                                            const EngineReport& report,
                                            absl::string_view stderr_tail) {
  if (report.error.has_value() && report.error->code() != 0) {
    quantd::v1::CompleteJobRequest request =
        Failed(report.error->code(),
               WithDetails(report.error->message(), exit, stderr_tail),
               report.error->field());
    // A target none of the attempts met: the attempts stay in the result.
    if (report.result.has_value()) *request.mutable_result() = *report.result;
    return request;
  }
  const std::string message =
      exit.Succeeded() ? "the engine exited without a result"
                       : "the engine failed without reporting an error";
  return Failed(static_cast<int>(CodeForExit(exit)),
                WithDetails(message, exit, stderr_tail), "");
}

}  // namespace

absl::StatusCode CodeForExit(const ExitStatus& exit) {
  if (exit.signaled) return absl::StatusCode::kInternal;
  switch (exit.code) {
    case 2:
      return absl::StatusCode::kInvalidArgument;
    case 4:
      return absl::StatusCode::kResourceExhausted;
    default:
      return absl::StatusCode::kInternal;
  }
}

quantd::v1::CompleteJobRequest CompletionFor(const ExitStatus& exit,
                                             const EngineReport& report,
                                             absl::string_view stderr_tail) {
  quantd::v1::CompleteJobRequest request;
  if (!exit.Succeeded() || !report.result.has_value()) {
    request = EngineFailed(exit, report, stderr_tail);
  } else if (!report.upload_error.ok()) {
    request = Failed(static_cast<int>(report.upload_error.code()),
                     absl::StrCat("uploading the job's artifacts: ",
                                  report.upload_error.message()),
                     "");
  } else {
    request.set_state(quantd::v1::JOB_STATE_SUCCEEDED);
    *request.mutable_result() = *report.result;
    for (const quantd::v1::Artifact& artifact : report.artifacts) {
      *request.mutable_result()->add_artifacts() = artifact;
    }
  }
  request.set_exit_status(exit.AsInt());
  return request;
}

}  // namespace quantd::agent
