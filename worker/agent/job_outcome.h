// How a job that the engine ended on its own is reported: SUCCEEDED with
// the engine's result and the uploaded artifacts, or FAILED with an
// ErrorInfo made from the engine's error event (or, without one, from its
// exit status: 2 invalid input, 4 out of memory, a signal a crash), its
// exit status and the last lines of its stderr; a FAILED job whose engine
// sent a result too (an accuracy target no attempt met) keeps that result.
#pragma once

#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "quantd/v1/types.pb.h"
#include "quantd/v1/worker.pb.h"
#include "worker/agent/child_process.h"

namespace quantd::agent {

// What the engine's events said, as collected by the relay.
struct EngineReport {
  // From the `result` event.
  std::optional<quantd::v1::JobResult> result;
  // From the `error` event.
  std::optional<quantd::v1::ErrorInfo> error;
  // Final artifacts as attached by the scheduler, in upload order.
  std::vector<quantd::v1::Artifact> artifacts;
  // Set when a final artifact could not be uploaded.
  absl::Status upload_error;
};

// The completion (state, result or error, exit status; no job id or
// fencing token) for an engine that ended with `exit`.
quantd::v1::CompleteJobRequest CompletionFor(const ExitStatus& exit,
                                             const EngineReport& report,
                                             absl::string_view stderr_tail);

// The canonical code for an engine that ended with `exit` without saying
// why.
absl::StatusCode CodeForExit(const ExitStatus& exit);

}  // namespace quantd::agent
