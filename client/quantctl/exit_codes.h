// Exit codes of quantctl: one per outcome a pipeline may want to branch on,
// and the mapping from canonical status codes and final job states to them.
// The table is part of the CLI's contract (docs/CLI.md); never renumber.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "quantd/v1/types.pb.h"

namespace quantd::client {

enum class ExitCode : int {
  kSuccess = 0,
  // Anything not listed below: local I/O errors, INTERNAL, UNIMPLEMENTED.
  kError = 1,
  // Bad flags or spec, locally or from the server (INVALID_ARGUMENT,
  // OUT_OF_RANGE).
  kInvalidInput = 2,
  // The server could not be reached (UNAVAILABLE, DEADLINE_EXCEEDED).
  kUnreachable = 3,
  // UNAUTHENTICATED or PERMISSION_DENIED.
  kAuthFailed = 4,
  // NOT_FOUND: unknown job, artifact or blob.
  kNotFound = 5,
  // A waited-on job ended FAILED.
  kJobFailed = 6,
  // A waited-on job ended CANCELLED.
  kJobCancelled = 7,
  // The server refused in the current state (FAILED_PRECONDITION,
  // RESOURCE_EXHAUSTED, ALREADY_EXISTS, ABORTED), e.g. cancelling a
  // finished job or a queue limit.
  kRejected = 8,
  // A download did not match its sha256 (DATA_LOSS).
  kIntegrity = 9,
};

int ToInt(ExitCode code);

// The exit code for a failed call; kSuccess for OK.
ExitCode ExitCodeForStatus(const absl::Status& status);

// The exit code once a waited-on job reached `state`: kSuccess for
// SUCCEEDED; kError for a non-terminal state.
ExitCode ExitCodeForJobState(quantd::v1::JobState state);

// The table printed at the end of --help.
std::string ExitCodeHelp();

}  // namespace quantd::client
