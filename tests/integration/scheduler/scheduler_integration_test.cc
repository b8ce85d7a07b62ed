// API semantics of a real quantd process on loopback, driven by real gRPC
// clients and a fake worker: idempotent submit, field-level validation
// errors, stable pagination under concurrent submits, cancel in every live
// state, watch resume without gaps or duplicates, and lease expiry with
// fencing.
#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/scheduler/quantd_process.h"
#include "tests/integration/scheduler/test_clients.h"

namespace quantd::testing {
namespace {

namespace v1 = quantd::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class SchedulerIntegrationTest : public ::testing::Test {
 protected:
  // Starts quantd with a tiny model under an allowed root.
  void StartQuantd(std::vector<std::string> args = {}) {
    model_dir_ = scratch_.path() + "/models/tiny";
    WriteTinyModel(model_dir_);
    args.push_back("--allowed-root=" + scratch_.path() + "/models");
    args.push_back("--store.sqlite_synchronous=normal");
    args.push_back("--scheduler.tick_interval_seconds=0.05");
    args.push_back("--shutdown.grace_seconds=2");
    auto process = QuantdProcess::Start(scratch_.path() + "/q", args);
    ASSERT_TRUE(process.ok()) << process.status();
    quantd_ = std::move(*process);
    jobs_ = std::make_unique<JobClient>(quantd_->Channel());
  }

  std::string Submit(const std::string& request_id) {
    auto job = jobs_->Submit(request_id, TinySpec(model_dir_));
    EXPECT_TRUE(job.ok()) << job.status();
    return job.ok() ? job->id() : "";
  }

  ScratchDir scratch_;
  std::string model_dir_;
  std::unique_ptr<QuantdProcess> quantd_;
  std::unique_ptr<JobClient> jobs_;
};

TEST_F(SchedulerIntegrationTest, SubmitIsIdempotentOnRequestId) {
  StartQuantd();
  auto first = jobs_->Submit("same-key", TinySpec(model_dir_));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->state(), v1::JOB_STATE_QUEUED);
  v1::JobSpec different = TinySpec(model_dir_);
  different.set_method("osplus");
  different.set_priority(9);
  auto second = jobs_->Submit("same-key", different);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->id(), first->id());
  EXPECT_EQ(second->spec().method(), "rtn");
  auto ids = jobs_->ListAllIds(100);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(ids->size(), 1u);
}

TEST_F(SchedulerIntegrationTest, InvalidSpecsAreInvalidArgumentNamingTheField) {
  StartQuantd();
  struct Case {
    std::function<void(v1::JobSpec&)> edit;
    std::string field;
  };
  const std::string outside = scratch_.path() + "/elsewhere";
  WriteTinyModel(outside);
  const std::vector<Case> cases = {
      {[](v1::JobSpec& s) { s.set_method("nonsense"); }, "method"},
      {[](v1::JobSpec& s) { s.clear_model(); }, "model"},
      {[](v1::JobSpec& s) {
         s.mutable_scheme()->mutable_weights()->set_bits(9);
       },
       "scheme.weights.bits"},
      {[](v1::JobSpec& s) { s.mutable_scheme()->set_preset("w4a16-g48"); },
       "scheme.weights.group_size"},
      {[&](v1::JobSpec& s) { s.mutable_model()->set_uri("file://" + outside); },
       "model.uri"},
      {[&](v1::JobSpec& s) {
         s.mutable_model()->set_uri("file://" + model_dir_ +
                                    "/../../elsewhere");
       },
       "model.uri"},
      {[](v1::JobSpec& s) { s.mutable_calibration()->set_n_samples(100000); },
       "calibration.n_samples"},
      {[](v1::JobSpec& s) { s.set_priority(-500); }, "priority"},
  };
  for (const Case& c : cases) {
    v1::JobSpec spec = TinySpec(model_dir_);
    c.edit(spec);
    std::string field;
    absl::Status status = jobs_->SubmitForError(spec, &field);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_EQ(status.message().substr(0, c.field.size() + 2), c.field + ": ")
        << status;
    EXPECT_EQ(field, c.field);
  }
  auto ids = jobs_->ListAllIds(100);
  ASSERT_TRUE(ids.ok());
  EXPECT_TRUE(ids->empty()) << "nothing invalid was stored";
}

TEST_F(SchedulerIntegrationTest, ListPaginatesStablyUnderConcurrentSubmits) {
  StartQuantd();
  std::vector<std::string> before;
  for (int i = 0; i < 40; ++i)
    before.push_back(Submit("before-" + std::to_string(i)));
  std::atomic<bool> done{false};
  std::thread submitter([&] {
    JobClient client(quantd_->Channel());
    for (int i = 0; i < 40 && !done; ++i) {
      EXPECT_TRUE(
          client.Submit("during-" + std::to_string(i), TinySpec(model_dir_))
              .ok());
    }
  });
  // Newest first; jobs submitted while paging are newer than the cursor and
  // so never shift the pages being read.
  std::vector<std::string> paged;
  v1::ListJobsRequest request;
  request.set_page_size(7);
  bool first_page = true;
  while (true) {
    auto page = jobs_->List(request);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& job : page->jobs()) paged.push_back(job.id());
    if (first_page) {
      // Pages after the first must hold exactly the older jobs.
      paged.erase(std::remove_if(paged.begin(), paged.end(),
                                 [&](const std::string& id) {
                                   return std::find(before.begin(),
                                                    before.end(),
                                                    id) == before.end();
                                 }),
                  paged.end());
      first_page = false;
    }
    if (page->next_page_token().empty()) break;
    request.set_page_token(page->next_page_token());
  }
  done = true;
  submitter.join();
  std::vector<std::string> expected(before.rbegin(), before.rend());
  EXPECT_EQ(paged, expected);
}

TEST_F(SchedulerIntegrationTest, CancelWorksInQueuedLeasedAndRunning) {
  StartQuantd({"--cancel.grace_seconds=0.5"});
  FakeWorker worker(quantd_->Channel(), "w1");
  ASSERT_TRUE(worker.Register(80ull << 30, 2).ok());
  const std::string leased_id = Submit("leased");
  const std::string running_id = Submit("running");
  auto lease_a = worker.Lease(5);
  auto lease_b = worker.Lease(5);
  ASSERT_TRUE(lease_a.ok() && lease_a->has_value()) << lease_a.status();
  ASSERT_TRUE(lease_b.ok() && lease_b->has_value()) << lease_b.status();
  const v1::Lease leased = **lease_a;
  const v1::Lease running = **lease_b;
  ASSERT_EQ(leased.job().id(), leased_id);
  ASSERT_TRUE(worker.ReportRunning(running).ok());
  const std::string queued_id = Submit("queued");

  auto queued = jobs_->Cancel(queued_id);
  ASSERT_TRUE(queued.ok()) << queued.status();
  EXPECT_EQ(queued->state(), v1::JOB_STATE_CANCELLED) << "immediate";

  // LEASED: cooperative, through the heartbeat; the worker confirms.
  auto cancel_leased = jobs_->Cancel(leased_id);
  ASSERT_TRUE(cancel_leased.ok());
  EXPECT_TRUE(cancel_leased->cancel_requested());
  auto beat = worker.Heartbeat({leased, running});
  ASSERT_TRUE(beat.ok()) << beat.status();
  EXPECT_THAT(beat->cancel_job_ids(), ElementsAre(leased_id));
  auto confirmed = worker.Complete(leased, v1::JOB_STATE_CANCELLED);
  ASSERT_TRUE(confirmed.ok()) << confirmed.status();
  EXPECT_EQ(confirmed->state(), v1::JOB_STATE_CANCELLED);

  // RUNNING: the worker ignores it; forced after the grace period.
  ASSERT_TRUE(jobs_->Cancel(running_id).ok());
  auto forced = jobs_->WaitForState(running_id, v1::JOB_STATE_CANCELLED);
  ASSERT_TRUE(forced.ok()) << forced.status();
  EXPECT_EQ(jobs_->Cancel(running_id).status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto late = worker.Complete(running, v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(SchedulerIntegrationTest, WatchResumesAfterADroppedStream) {
  StartQuantd();
  FakeWorker worker(quantd_->Channel(), "w1");
  ASSERT_TRUE(worker.Register().ok());
  const std::string id = Submit("watched");
  auto lease = worker.Lease(5);
  ASSERT_TRUE(lease.ok() && lease->has_value());
  ASSERT_TRUE(worker.ReportRunning(**lease).ok());
  ASSERT_TRUE(worker.ReportProgress(**lease, 20).ok());
  // Read part of the log, then drop the connection.
  auto first = jobs_->Watch(id, 0, 10);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->size(), 10u);
  const uint64_t resume_at = first->back().sequence();
  // More events arrive while nobody watches, and some while the new
  // watcher is connected.
  ASSERT_TRUE(worker.ReportProgress(**lease, 30).ok());
  std::thread finisher([&] {
    EXPECT_TRUE(worker.ReportProgress(**lease, 5).ok());
    EXPECT_TRUE(worker.Complete(**lease, v1::JOB_STATE_SUCCEEDED).ok());
  });
  auto rest = jobs_->Watch(id, resume_at, 100000);
  finisher.join();
  ASSERT_TRUE(rest.ok()) << rest.status();
  std::vector<uint64_t> sequences;
  for (const auto& event : *first) sequences.push_back(event.sequence());
  for (const auto& event : *rest) sequences.push_back(event.sequence());
  ASSERT_FALSE(rest->empty());
  EXPECT_TRUE(rest->back().has_terminal());
  EXPECT_EQ(rest->back().terminal().state(), v1::JOB_STATE_SUCCEEDED);
  for (size_t i = 0; i < sequences.size(); ++i) {
    ASSERT_EQ(sequences[i], i + 1) << "gap or duplicate at " << i;
  }
  auto job = jobs_->Get(id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->last_sequence(), sequences.size());
  EXPECT_EQ(jobs_->Watch(id, job->last_sequence() + 1, 10).status().code(),
            absl::StatusCode::kOutOfRange);
  auto after_end = jobs_->Watch(id, job->last_sequence(), 10);
  ASSERT_TRUE(after_end.ok());
  EXPECT_TRUE(after_end->empty());
}

TEST_F(SchedulerIntegrationTest,
       ExpiredLeaseGoesToAnotherWorkerAndFencesTheOld) {
  StartQuantd({"--lease.timeout_seconds=2", "--lease.backoff_base_seconds=0"});
  FakeWorker old_holder(quantd_->Channel(), "w-old");
  FakeWorker new_holder(quantd_->Channel(), "w-new");
  ASSERT_TRUE(old_holder.Register().ok());
  ASSERT_TRUE(new_holder.Register().ok());
  const std::string id = Submit("expiring");
  auto old_lease = old_holder.Lease(5);
  ASSERT_TRUE(old_lease.ok() && old_lease->has_value());
  ASSERT_TRUE(old_holder.ReportRunning(**old_lease).ok());
  // The old holder goes silent; the lease expires and the job is requeued.
  auto new_lease = new_holder.Lease(30);
  ASSERT_TRUE(new_lease.ok() && new_lease->has_value()) << new_lease.status();
  EXPECT_EQ((*new_lease)->job().id(), id);
  EXPECT_EQ((*new_lease)->job().attempt(), 2u);
  EXPECT_GT((*new_lease)->fencing_token(), (*old_lease)->fencing_token());
  // The new holder keeps its lease alive while the old one reports late.
  ASSERT_TRUE(new_holder.Heartbeat({**new_lease}).ok());
  auto late = old_holder.Complete(**old_lease, v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(late.status().message()), HasSubstr("fencing_token"));
  auto revoked = old_holder.Heartbeat({**old_lease});
  ASSERT_TRUE(revoked.ok());
  EXPECT_THAT(revoked->revoked_job_ids(), ElementsAre(id));
  auto done = new_holder.Complete(**new_lease, v1::JOB_STATE_SUCCEEDED);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(done->result().metric(), "perplexity");
}

TEST_F(SchedulerIntegrationTest, RejectsWhatNoRegisteredWorkerCanRun) {
  StartQuantd();
  FakeWorker tiny(quantd_->Channel(), "tiny");
  ASSERT_TRUE(tiny.Register(/*device_memory_bytes=*/1 << 20).ok());
  auto job = jobs_->Submit("too-big", TinySpec(model_dir_));
  EXPECT_EQ(job.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(SchedulerIntegrationTest, GracefulShutdownOnSigterm) {
  StartQuantd();
  Submit("kept");
  FakeWorker worker(quantd_->Channel(), "w1");
  ASSERT_TRUE(worker.Register(80ull << 30, 2).ok());
  auto lease = worker.Lease(5);
  ASSERT_TRUE(lease.ok() && lease->has_value());
  std::thread poller([&] {
    // A long-poll in flight is answered (empty) at shutdown, not dropped.
    auto empty = worker.Lease(30);
    EXPECT_TRUE(empty.ok() || absl::IsUnavailable(empty.status()))
        << empty.status();
    if (empty.ok()) {
      EXPECT_FALSE(empty->has_value());
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(quantd_->Terminate(), 0) << quantd_->Log();
  poller.join();
  EXPECT_THAT(quantd_->Log(), HasSubstr("stopped"));
}

}  // namespace
}  // namespace quantd::testing
