#include "server/scheduler/transitions.h"

#include "gtest/gtest.h"
#include "quantd/v1/types.pb.h"

namespace quantd::scheduler::internal {
namespace {

using store::JobRecord;
using store::JobState;

JobRecord Held(uint64_t token, int64_t expiry_ms) {
  JobRecord job;
  job.id = "j-1";
  job.state = JobState::kRunning;
  job.worker_id = "w1";
  job.fencing_token = token;
  job.lease_expiry_ms = expiry_ms;
  job.max_attempts = 3;
  return job;
}

quantd::v1::JobEvent Parse(const std::string& payload) {
  quantd::v1::JobEvent event;
  event.ParseFromString(payload);
  return event;
}

TEST(TransitionsTest, FencingRejectsStaleTokensAndUnheldJobs) {
  JobRecord job = Held(4, 0);
  EXPECT_TRUE(CheckFencing(job, 4).ok());
  EXPECT_EQ(CheckFencing(job, 3).code(), absl::StatusCode::kFailedPrecondition);
  job.state = JobState::kQueued;
  EXPECT_EQ(CheckFencing(job, 4).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(TransitionsTest, LeaseBumpsTheFencingToken) {
  JobRecord job;
  job.fencing_token = 7;
  store::JobUpdate update = Lease(job, "w2", 1000, 500);
  EXPECT_EQ(job.state, JobState::kLeased);
  EXPECT_EQ(job.fencing_token, 8u);
  EXPECT_EQ(job.lease_expiry_ms, 1500);
  EXPECT_EQ(job.start_time_ms, 1000);
  ASSERT_EQ(update.events.size(), 1u);
  EXPECT_EQ(Parse(update.events[0]).state_change().to(),
            quantd::v1::JOB_STATE_LEASED);
}

TEST(TransitionsTest, BackoffDoublesUpToTheCap) {
  EXPECT_EQ(BackoffMillis(2, 1000, 10000), 1000);
  EXPECT_EQ(BackoffMillis(3, 1000, 10000), 2000);
  EXPECT_EQ(BackoffMillis(4, 1000, 10000), 4000);
  EXPECT_EQ(BackoffMillis(9, 1000, 10000), 10000);
}

TEST(TransitionsTest, ExpiredLeaseRequeuesThenFails) {
  const DueOptions options{30'000, 1'000, 60'000};
  JobRecord job = Held(1, 100);
  DueAction action;
  auto update = ApplyDue(job, 100, options, action);
  ASSERT_TRUE(update.ok());
  EXPECT_EQ(action, DueAction::kLeaseExpiredRequeued);
  EXPECT_EQ(job.state, JobState::kQueued);
  EXPECT_EQ(job.attempt, 2u);
  EXPECT_EQ(job.not_before_ms, 1100);
  EXPECT_TRUE(job.worker_id.empty());

  job = Held(2, 100);
  job.attempt = 3;
  update = ApplyDue(job, 200, options, action);
  ASSERT_TRUE(update.ok());
  EXPECT_EQ(action, DueAction::kLeaseExpiredFailed);
  EXPECT_EQ(job.state, JobState::kFailed);
  ASSERT_EQ(update->events.size(), 2u);
  const quantd::v1::JobEvent terminal = Parse(update->events[1]);
  EXPECT_EQ(terminal.terminal().state(), quantd::v1::JOB_STATE_FAILED);
  EXPECT_EQ(terminal.terminal().error().code(), 14);  // UNAVAILABLE
}

TEST(TransitionsTest, NothingDueIsAborted) {
  JobRecord job = Held(1, 5000);
  DueAction action;
  EXPECT_EQ(ApplyDue(job, 100, {}, action).status().code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(action, DueAction::kNone);
}

TEST(TransitionsTest, CancelIsImmediateWhenQueuedAndCooperativeWhenHeld) {
  JobRecord queued;
  queued.state = JobState::kQueued;
  ASSERT_TRUE(RequestCancel(queued, "user", 10, 1000).ok());
  EXPECT_EQ(queued.state, JobState::kCancelled);

  JobRecord held = Held(1, 99999);
  ASSERT_TRUE(RequestCancel(held, "user", 10, 1000).ok());
  EXPECT_EQ(held.state, JobState::kRunning);
  EXPECT_TRUE(held.cancel_requested);
  EXPECT_EQ(held.cancel_deadline_ms, 1010);
  DueAction action;
  EXPECT_FALSE(ApplyDue(held, 1009, {}, action).ok());
  ASSERT_TRUE(ApplyDue(held, 1010, {}, action).ok());
  EXPECT_EQ(action, DueAction::kCancelForced);
  EXPECT_EQ(held.state, JobState::kCancelled);
  EXPECT_EQ(RequestCancel(held, "again", 2000, 1000).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(TransitionsTest, DeadlineCancelsAQueuedJobAsDeadlineExceeded) {
  JobRecord job;
  job.state = JobState::kQueued;
  job.deadline_ms = 50;
  DueAction action;
  auto update = ApplyDue(job, 50, {}, action);
  ASSERT_TRUE(update.ok());
  EXPECT_EQ(action, DueAction::kDeadlineCancelled);
  const quantd::v1::JobEvent terminal = Parse(update->events.back());
  EXPECT_EQ(terminal.terminal().state(), quantd::v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(terminal.terminal().error().code(), 4);  // DEADLINE_EXCEEDED
}

}  // namespace
}  // namespace quantd::scheduler::internal
