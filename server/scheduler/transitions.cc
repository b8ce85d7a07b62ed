#include "server/scheduler/transitions.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/scheduler/job_codec.h"

namespace quantd::scheduler::internal {

using store::JobRecord;
using store::JobState;
using store::JobUpdate;

absl::Status CheckFencing(const JobRecord& job, uint64_t fencing_token) {
  if (!store::IsHeld(job.state) || fencing_token != job.fencing_token) {
    return absl::FailedPreconditionError(
        absl::StrCat("fencing_token: ", fencing_token, " no longer holds job ",
                     job.id, " (state ", store::JobStateName(job.state),
                     ", current token ", job.fencing_token, ")"));
  }
  return absl::OkStatus();
}

JobUpdate Lease(JobRecord& job, const std::string& worker_id, int64_t now_ms,
                int64_t lease_timeout_ms) {
  const JobState from = job.state;
  job.state = JobState::kLeased;
  job.worker_id = worker_id;
  job.fencing_token += 1;
  job.lease_expiry_ms = now_ms + lease_timeout_ms;
  if (job.start_time_ms == 0) job.start_time_ms = now_ms;
  return JobUpdate{
      {StateChangePayload(from, job.state,
                          absl::StrCat("leased by worker ", worker_id),
                          job.attempt)},
      now_ms,
      {}};
}

JobUpdate Finish(JobRecord& job, JobState state, const std::string& reason,
                 int64_t now_ms, std::string error, std::string result) {
  const JobState from = job.state;
  job.state = state;
  job.end_time_ms = now_ms;
  job.lease_expiry_ms = 0;
  job.cancel_deadline_ms = 0;
  job.error = std::move(error);
  job.result = std::move(result);
  return JobUpdate{{StateChangePayload(from, state, reason, job.attempt),
                    TerminalPayload(job)},
                   now_ms,
                   {}};
}

JobUpdate Requeue(JobRecord& job, const std::string& reason, int64_t now_ms,
                  uint32_t next_attempt, int64_t not_before_ms) {
  const JobState from = job.state;
  job.state = JobState::kQueued;
  job.attempt = next_attempt;
  job.worker_id.clear();
  job.lease_expiry_ms = 0;
  job.queued_time_ms = now_ms;
  job.not_before_ms = not_before_ms;
  return JobUpdate{
      {StateChangePayload(from, job.state, reason, next_attempt)}, now_ms, {}};
}

int64_t BackoffMillis(uint32_t next_attempt, int64_t base_ms, int64_t max_ms) {
  int64_t delay = base_ms;
  for (uint32_t i = 2; i < next_attempt && delay < max_ms; ++i) delay *= 2;
  return std::min(delay, max_ms);
}

namespace {

absl::StatusOr<JobUpdate> ExpireLease(JobRecord& job, int64_t now_ms,
                                      const DueOptions& options,
                                      DueAction& action) {
  const std::string reason =
      absl::StrCat("lease of worker ", job.worker_id, " expired");
  if (job.cancel_requested) {
    action = DueAction::kLeaseExpiredCancelled;
    return Finish(job, JobState::kCancelled, reason, now_ms,
                  ErrorPayload(absl::StatusCode::kCancelled,
                               "cancelled; the worker stopped answering"),
                  "");
  }
  if (job.attempt >= job.max_attempts) {
    action = DueAction::kLeaseExpiredFailed;
    return Finish(
        job, JobState::kFailed, reason, now_ms,
        ErrorPayload(
            absl::StatusCode::kUnavailable,
            absl::StrCat("lease expired on attempt ", job.attempt, " of ",
                         job.max_attempts, " (last worker ", job.worker_id,
                         "); the job's events hold every attempt")),
        "");
  }
  action = DueAction::kLeaseExpiredRequeued;
  const uint32_t next = job.attempt + 1;
  return Requeue(job, reason, now_ms, next,
                 now_ms + BackoffMillis(next, options.backoff_base_ms,
                                        options.backoff_max_ms));
}

}  // namespace

absl::StatusOr<JobUpdate> ApplyDue(JobRecord& job, int64_t now_ms,
                                   const DueOptions& options,
                                   DueAction& action) {
  action = DueAction::kNone;
  if (store::IsTerminal(job.state)) return absl::AbortedError("terminal");
  if (store::IsHeld(job.state) && job.lease_expiry_ms <= now_ms) {
    return ExpireLease(job, now_ms, options, action);
  }
  if (store::IsHeld(job.state) && job.cancel_requested &&
      job.cancel_deadline_ms > 0 && job.cancel_deadline_ms <= now_ms) {
    action = DueAction::kCancelForced;
    return Finish(job, JobState::kCancelled,
                  "cancel grace period ended; forced", now_ms,
                  ErrorPayload(absl::StatusCode::kCancelled,
                               "cancelled (forced after the grace period)"),
                  "");
  }
  if (!job.cancel_requested && job.deadline_ms > 0 &&
      job.deadline_ms <= now_ms) {
    auto update =
        RequestCancel(job, "deadline passed", now_ms, options.cancel_grace_ms);
    action = job.state == JobState::kCancelled
                 ? DueAction::kDeadlineCancelled
                 : DueAction::kDeadlineCancelRequested;
    if (update.ok() && job.state == JobState::kCancelled) {
      job.error = ErrorPayload(absl::StatusCode::kDeadlineExceeded,
                               "the job's deadline passed");
      update->events.back() = TerminalPayload(job);
    }
    return update;
  }
  return absl::AbortedError("nothing due");
}

absl::StatusOr<JobUpdate> RequestCancel(JobRecord& job,
                                        const std::string& reason,
                                        int64_t now_ms,
                                        int64_t cancel_grace_ms) {
  if (store::IsTerminal(job.state)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job ", job.id, " is already ", store::JobStateName(job.state)));
  }
  const std::string why = reason.empty() ? "cancel requested" : reason;
  if (job.state == JobState::kQueued) {
    return Finish(job, JobState::kCancelled, why, now_ms,
                  ErrorPayload(absl::StatusCode::kCancelled,
                               absl::StrCat("cancelled: ", why)),
                  "");
  }
  if (job.cancel_requested) return JobUpdate{};
  job.cancel_requested = true;
  job.cancel_deadline_ms = now_ms + cancel_grace_ms;
  return JobUpdate{
      {LogPayload("info", absl::StrCat("cancel requested: ", why))},
      now_ms,
      {}};
}

}  // namespace quantd::scheduler::internal
