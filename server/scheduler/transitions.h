// The job state machine: the edits that move a JobRecord from one state to
// the next and the events that record each move. Pure functions of the row
// and the time, so store mutators built from them can be retried, and the
// lifecycle is testable without a store.
//
//   QUEUED -> LEASED -> RUNNING -> SUCCEEDED | FAILED | CANCELLED
//   LEASED/RUNNING -> QUEUED on lease expiry (attempt + 1) or release
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "server/store/job_store.h"

namespace quantd::scheduler::internal {

// FailedPrecondition unless `job` is held under `fencing_token`: a late
// call from a lease holder that lost the job.
[[nodiscard]] absl::Status CheckFencing(const store::JobRecord& job,
                                        uint64_t fencing_token);

// QUEUED -> LEASED by `worker_id` with a new fencing token.
store::JobUpdate Lease(store::JobRecord& job, const std::string& worker_id,
                       int64_t now_ms, int64_t lease_timeout_ms);

// Moves a job to a terminal state. `error` and `result` are serialised
// ErrorInfo / JobResult (empty for none).
store::JobUpdate Finish(store::JobRecord& job, store::JobState state,
                        const std::string& reason, int64_t now_ms,
                        std::string error, std::string result);

// Held -> QUEUED. `next_attempt` is the new attempt number and
// `not_before_ms` when it may be leased again.
store::JobUpdate Requeue(store::JobRecord& job, const std::string& reason,
                         int64_t now_ms, uint32_t next_attempt,
                         int64_t not_before_ms);

// Exponential backoff before attempt `next_attempt` (2, 3, ...):
// base * 2^(next_attempt - 2), capped at max.
int64_t BackoffMillis(uint32_t next_attempt, int64_t base_ms, int64_t max_ms);

struct DueOptions {
  int64_t cancel_grace_ms = 30'000;
  int64_t backoff_base_ms = 2'000;
  int64_t backoff_max_ms = 300'000;
};

// What a due-job check did, for metrics and logs.
enum class DueAction {
  kNone,
  kLeaseExpiredRequeued,
  kLeaseExpiredFailed,
  kLeaseExpiredCancelled,
  kCancelForced,
  kDeadlineCancelled,
  kDeadlineCancelRequested,
};

// Applies whatever is due at `now_ms` (lease expiry, end of a cancel grace
// period, deadline); Aborted with nothing to write when nothing is due.
[[nodiscard]] absl::StatusOr<store::JobUpdate> ApplyDue(
    store::JobRecord& job, int64_t now_ms, const DueOptions& options,
    DueAction& action);

// Cancels a job: QUEUED is cancelled at once; a held job is asked to stop
// (its worker hears it on the next heartbeat) and forced after the grace
// period. FailedPrecondition for a terminal job.
[[nodiscard]] absl::StatusOr<store::JobUpdate> RequestCancel(
    store::JobRecord& job, const std::string& reason, int64_t now_ms,
    int64_t cancel_grace_ms);

}  // namespace quantd::scheduler::internal
