#include "client/quantctl/exit_codes.h"

namespace quantd::client {

int ToInt(ExitCode code) { return static_cast<int>(code); }

ExitCode ExitCodeForStatus(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return ExitCode::kSuccess;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return ExitCode::kInvalidInput;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return ExitCode::kUnreachable;
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return ExitCode::kAuthFailed;
    case absl::StatusCode::kNotFound:
      return ExitCode::kNotFound;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return ExitCode::kRejected;
    case absl::StatusCode::kDataLoss:
      return ExitCode::kIntegrity;
    default:
      return ExitCode::kError;
  }
}

ExitCode ExitCodeForJobState(quantd::v1::JobState state) {
  switch (state) {
    case quantd::v1::JOB_STATE_SUCCEEDED:
      return ExitCode::kSuccess;
    case quantd::v1::JOB_STATE_FAILED:
      return ExitCode::kJobFailed;
    case quantd::v1::JOB_STATE_CANCELLED:
      return ExitCode::kJobCancelled;
    default:
      return ExitCode::kError;
  }
}

std::string ExitCodeHelp() {
  return "Exit codes:\n"
         "  0  success (a waited-on job SUCCEEDED)\n"
         "  1  other error (local I/O, internal, unimplemented)\n"
         "  2  invalid input (flags, spec: INVALID_ARGUMENT, OUT_OF_RANGE)\n"
         "  3  server unreachable (UNAVAILABLE, DEADLINE_EXCEEDED)\n"
         "  4  authentication failed (UNAUTHENTICATED, PERMISSION_DENIED)\n"
         "  5  not found (NOT_FOUND)\n"
         "  6  job FAILED\n"
         "  7  job CANCELLED\n"
         "  8  rejected by the server in its current state "
         "(FAILED_PRECONDITION,\n"
         "     RESOURCE_EXHAUSTED, ALREADY_EXISTS, ABORTED)\n"
         "  9  download integrity check failed (DATA_LOSS)\n";
}

}  // namespace quantd::client
