#include "server/scheduler/scheduler.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "common/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "server/artifacts/blob_store.h"
#include "server/scheduler/scheduler_test_util.h"
#include "server/store/sqlite_store.h"

namespace quantd::scheduler {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing_util::TempDir;
namespace v1 = quantd::v1;

class RecordingListener : public SchedulerListener {
 public:
  void OnJobEvents(const std::string& job_id,
                   const std::vector<v1::JobEvent>& events) override {
    for (const auto& event : events)
      sequences[job_id].push_back(event.sequence());
  }
  void OnQueueChanged() override { ++queue_changes; }
  std::map<std::string, std::vector<uint64_t>> sequences;
  int queue_changes = 0;
};

class SchedulerTest : public testing::Test {
 protected:
  void SetUp() override { Build(SchedulerOptions{}); }

  void Build(SchedulerOptions options) {
    scheduler_.reset();
    store_.reset();
    options.lease_timeout_seconds = 10;
    options.cancel_grace_seconds = 5;
    options.backoff_base_seconds = 1;
    testing_util::WriteHfModel(dir_.path() / "models/tiny", 64, 128);
    auto store = store::SqliteJobStore::Open(
        {.path = (dir_.path() / "quantd.db").string(),
         .synchronous_full = false});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto roots = AllowedRoots::Create({(dir_.path() / "models").string()});
    ASSERT_TRUE(roots.ok());
    metrics_ = std::make_unique<metrics::ServerMetrics>(registry_);
    scheduler_ = std::make_unique<Scheduler>(
        store_.get(), &clock_, options, *roots, metrics_.get(),
        std::make_shared<spdlog::logger>("test"));
    scheduler_->SetListener(&listener_);
  }

  v1::SubmitJobRequest Request(const std::string& request_id,
                               int32_t priority = 0) {
    v1::SubmitJobRequest request;
    request.set_request_id(request_id);
    auto* spec = request.mutable_spec();
    spec->mutable_model()->set_uri("file://" +
                                   (dir_.path() / "models/tiny").string());
    spec->set_method("rtn");
    spec->mutable_scheme()->set_preset("w8a8");
    spec->mutable_calibration()->set_n_samples(4);
    spec->mutable_calibration()->set_seq_len(64);
    spec->set_priority(priority);
    return request;
  }

  std::string Submit(const std::string& request_id, int32_t priority = 0,
                     const Caller& caller = {}) {
    auto job = scheduler_->Submit(caller, Request(request_id, priority));
    EXPECT_TRUE(job.ok()) << job.status();
    return job.ok() ? job->id() : "";
  }

  void Register(const std::string& worker_id, uint64_t memory = 1ull << 36) {
    v1::RegisterWorkerRequest request;
    request.set_worker_id(worker_id);
    auto* device = request.mutable_capabilities()->add_devices();
    device->set_name("cuda:0");
    device->set_memory_bytes(memory);
    request.mutable_capabilities()->set_host_memory_bytes(1ull << 36);
    ASSERT_TRUE(scheduler_->RegisterWorker(request).ok());
  }

  v1::Lease MustLease(const std::string& worker_id) {
    auto lease = scheduler_->TryLease(worker_id);
    EXPECT_TRUE(lease.ok()) << lease.status();
    EXPECT_TRUE(lease.ok() && lease->has_value())
        << "no lease for " << worker_id;
    return lease.ok() && lease->has_value() ? **lease : v1::Lease{};
  }

  v1::CompleteJobRequest Completion(const v1::Lease& lease,
                                    v1::JobState state) {
    v1::CompleteJobRequest request;
    request.set_job_id(lease.job().id());
    request.set_fencing_token(lease.fencing_token());
    request.set_state(state);
    return request;
  }

  v1::HeartbeatResponse Beat(const std::string& worker_id,
                             const v1::Lease& lease) {
    v1::HeartbeatRequest request;
    request.set_worker_id(worker_id);
    auto* held = request.add_leases();
    held->set_job_id(lease.job().id());
    held->set_fencing_token(lease.fencing_token());
    auto response = scheduler_->Heartbeat(request);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? *response : v1::HeartbeatResponse{};
  }

  v1::JobState StateOf(const std::string& id) {
    auto job = scheduler_->Get({}, id);
    EXPECT_TRUE(job.ok()) << job.status();
    return job.ok() ? job->state() : v1::JOB_STATE_UNSPECIFIED;
  }

  TempDir dir_;
  FakeClock clock_;
  prometheus::Registry registry_;
  std::unique_ptr<metrics::ServerMetrics> metrics_;
  std::unique_ptr<store::SqliteJobStore> store_;
  std::unique_ptr<Scheduler> scheduler_;
  RecordingListener listener_;
};

TEST_F(SchedulerTest, SubmitIsIdempotentOnRequestIdPerTenant) {
  const std::string first = Submit("r1");
  v1::SubmitJobRequest other = Request("r1", 50);
  other.mutable_spec()->set_method("osplus");
  auto again = scheduler_->Submit({}, other);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->id(), first);
  EXPECT_EQ(again->spec().method(), "rtn");
  EXPECT_NE(Submit("r1", 0, Caller{"globex"}), first);

  v1::SubmitJobRequest dry = Request("");
  dry.set_validate_only(true);
  auto estimate = scheduler_->Submit({}, dry);
  ASSERT_TRUE(estimate.ok()) << estimate.status();
  EXPECT_TRUE(estimate->id().empty());
  EXPECT_GT(estimate->estimate().device_memory_bytes(), 0u);
  auto listed = scheduler_->List({}, {});
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->jobs_size(), 1);
}

TEST_F(SchedulerTest, RejectsAtSubmitWhatNoRegisteredWorkerCanRun) {
  EXPECT_FALSE(Submit("before-any-worker").empty()) << "no worker yet: queue";
  Register("small", 1 << 20);
  auto rejected = scheduler_->Submit({}, Request("r2"));
  EXPECT_EQ(rejected.status().code(), absl::StatusCode::kResourceExhausted);
  SchedulerOptions options;
  options.queue_unplaceable = true;
  Build(options);
  EXPECT_FALSE(Submit("r3").empty());
}

// A format that cannot hold the scheme fails the submit, not the job at its
// end: nothing is stored and the request id stays free.
TEST_F(SchedulerTest, RefusesAnUnexportableSchemeBeforeStoringIt) {
  v1::SubmitJobRequest request = Request("w6a6-ct");
  request.mutable_spec()->mutable_scheme()->set_preset("w6a6");
  request.mutable_spec()->add_export_formats(
      v1::EXPORT_FORMAT_COMPRESSED_TENSORS);
  auto refused = scheduler_->Submit({}, request);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("export_formats: compressed-tensors cannot hold "
                        "scheme 'w6a6'"));
  auto listed = scheduler_->List({}, {});
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->jobs_size(), 0);
  request.mutable_spec()->mutable_scheme()->set_preset("w8a8");
  EXPECT_TRUE(scheduler_->Submit({}, request).ok());
}

TEST_F(SchedulerTest, TenantQueueLimitIsResourceExhausted) {
  SchedulerOptions options;
  options.max_queued_per_tenant = 2;
  Build(options);
  Submit("a");
  Submit("b");
  EXPECT_EQ(scheduler_->Submit({}, Request("c")).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_FALSE(Submit("c", 0, Caller{"other"}).empty());
}

TEST_F(SchedulerTest, LeasesFollowPriorityThenFifo) {
  const std::string low = Submit("low", -5);
  const std::string first = Submit("first", 3);
  const std::string second = Submit("second", 3);
  Register("w1");
  std::vector<std::string> order;
  for (int i = 0; i < 3; ++i) {
    v1::Lease lease = MustLease("w1");
    order.push_back(lease.job().id());
    ASSERT_TRUE(
        scheduler_->Complete(Completion(lease, v1::JOB_STATE_SUCCEEDED)).ok());
  }
  EXPECT_THAT(order, ElementsAre(first, second, low));
}

TEST_F(SchedulerTest, ExpiredLeaseRequeuesToAnotherWorkerAndFencesTheOldOne) {
  const std::string id = Submit("r");
  Register("w1");
  Register("w2");
  const v1::Lease old_lease = MustLease("w1");
  EXPECT_EQ(old_lease.fencing_token(), 1u);
  clock_.AdvanceSeconds(11);
  scheduler_->Tick();
  auto job = scheduler_->Get({}, id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state(), v1::JOB_STATE_QUEUED);
  EXPECT_EQ(job->attempt(), 2u);
  auto none = scheduler_->TryLease("w2");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value()) << "backoff of 1 s not over";
  clock_.AdvanceSeconds(1);
  const v1::Lease new_lease = MustLease("w2");
  EXPECT_EQ(new_lease.fencing_token(), 2u);

  auto late =
      scheduler_->Complete(Completion(old_lease, v1::JOB_STATE_SUCCEEDED));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Beat("w1", old_lease).revoked_job_ids(), ElementsAre(id));
  v1::ReportEventsRequest report;
  report.set_job_id(id);
  report.set_fencing_token(1);
  report.add_events()->mutable_log()->set_message("late");
  EXPECT_EQ(scheduler_->ReportEvents(report).status().code(),
            absl::StatusCode::kFailedPrecondition);

  auto done =
      scheduler_->Complete(Completion(new_lease, v1::JOB_STATE_SUCCEEDED));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), v1::JOB_STATE_SUCCEEDED);
  // submitted, leased, expired, leased, succeeded, terminal: no gaps.
  EXPECT_THAT(listener_.sequences[id], ElementsAre(1, 2, 3, 4, 5, 6));
  const std::string text =
      prometheus::TextSerializer().Serialize(registry_.Collect());
  EXPECT_THAT(text, HasSubstr("quantd_lease_expiries_total 1"));
  EXPECT_THAT(text, HasSubstr("quantd_leases_granted_total 2"));
}

TEST_F(SchedulerTest, HeartbeatsKeepALeaseAlive) {
  const std::string id = Submit("r");
  Register("w1");
  const v1::Lease lease = MustLease("w1");
  for (int i = 0; i < 5; ++i) {
    clock_.AdvanceSeconds(8);
    EXPECT_EQ(Beat("w1", lease).revoked_job_ids_size(), 0);
    scheduler_->Tick();
  }
  EXPECT_EQ(StateOf(id), v1::JOB_STATE_LEASED);
}

TEST_F(SchedulerTest, FailsAfterMaxAttemptsWithHistory) {
  v1::SubmitJobRequest request = Request("r");
  request.mutable_spec()->mutable_retry()->set_max_attempts(2);
  auto submitted = scheduler_->Submit({}, request);
  ASSERT_TRUE(submitted.ok());
  Register("w1");
  for (int attempt = 1; attempt <= 2; ++attempt) {
    MustLease("w1");
    clock_.AdvanceSeconds(20);
    scheduler_->Tick();
    clock_.AdvanceSeconds(2);  // past the requeue backoff
  }
  auto job = scheduler_->Get({}, submitted->id());
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state(), v1::JOB_STATE_FAILED);
  EXPECT_EQ(job->error().code(), 14);
  EXPECT_THAT(job->error().message(), HasSubstr("attempt 2 of 2"));
  auto events = scheduler_->ReadEvents(submitted->id(), 0, 100);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->events.size(), 6u);
  EXPECT_TRUE(events->events.back().has_terminal());
}

TEST_F(SchedulerTest, CancelQueuedIsImmediate) {
  const std::string id = Submit("r");
  v1::CancelJobRequest cancel;
  cancel.set_id(id);
  auto job = scheduler_->Cancel({}, cancel);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state(), v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(scheduler_->Cancel({}, cancel).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(SchedulerTest, CancelLeasedGoesThroughTheHeartbeat) {
  const std::string id = Submit("r");
  Register("w1");
  const v1::Lease lease = MustLease("w1");
  v1::CancelJobRequest cancel;
  cancel.set_id(id);
  auto job = scheduler_->Cancel({}, cancel);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state(), v1::JOB_STATE_LEASED);
  EXPECT_TRUE(job->cancel_requested());
  EXPECT_THAT(Beat("w1", lease).cancel_job_ids(), ElementsAre(id));
  auto done = scheduler_->Complete(Completion(lease, v1::JOB_STATE_CANCELLED));
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state(), v1::JOB_STATE_CANCELLED);
}

TEST_F(SchedulerTest, CancelRunningIsForcedAfterTheGracePeriod) {
  const std::string id = Submit("r");
  Register("w1");
  const v1::Lease lease = MustLease("w1");
  v1::ReportEventsRequest report;
  report.set_job_id(id);
  report.set_fencing_token(lease.fencing_token());
  report.add_events()->mutable_state_change()->set_to(v1::JOB_STATE_RUNNING);
  ASSERT_TRUE(scheduler_->ReportEvents(report).ok());
  EXPECT_EQ(StateOf(id), v1::JOB_STATE_RUNNING);
  v1::CancelJobRequest cancel;
  cancel.set_id(id);
  ASSERT_TRUE(scheduler_->Cancel({}, cancel).ok());
  clock_.AdvanceSeconds(4);
  Beat("w1", lease);
  scheduler_->Tick();
  EXPECT_EQ(StateOf(id), v1::JOB_STATE_RUNNING);
  clock_.AdvanceSeconds(1);
  scheduler_->Tick();
  EXPECT_EQ(StateOf(id), v1::JOB_STATE_CANCELLED);
}

TEST_F(SchedulerTest, ReportEventsValidatesAndRecordsProgress) {
  const std::string id = Submit("r");
  Register("w1");
  const v1::Lease lease = MustLease("w1");
  v1::ReportEventsRequest report;
  report.set_job_id(id);
  report.set_fencing_token(lease.fencing_token());
  report.add_events()->mutable_progress()->set_fraction(0.25);
  report.add_events()->mutable_terminal();
  EXPECT_EQ(scheduler_->ReportEvents(report).status().code(),
            absl::StatusCode::kInvalidArgument);
  report.mutable_events()->RemoveLast();
  auto last = scheduler_->ReportEvents(report);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(*last, 3u) << "submitted, leased, progress";
  auto job = scheduler_->Get({}, id);
  ASSERT_TRUE(job.ok());
  EXPECT_DOUBLE_EQ(job->progress().fraction(), 0.25);
}

TEST_F(SchedulerTest, ReleaseRequeuesWithoutUsingAnAttempt) {
  const std::string id = Submit("r");
  Register("w1");
  v1::CompleteJobRequest release =
      Completion(MustLease("w1"), v1::JOB_STATE_UNSPECIFIED);
  release.set_release(true);
  auto job = scheduler_->Complete(release);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->state(), v1::JOB_STATE_QUEUED);
  EXPECT_EQ(job->attempt(), 1u);
  EXPECT_EQ(MustLease("w1").fencing_token(), 2u);
}

// Stores `data` as a blob; returns its hex digest.
std::string PutBlob(artifacts::BlobStore& blobs, const std::string& data) {
  const std::string hex = Sha256Hex(data);
  auto writer = blobs.NewWriter(hex, data.size());
  EXPECT_TRUE(writer.ok()) << writer.status();
  if (!writer.ok()) return hex;
  EXPECT_TRUE((*writer)->Append(data).ok());
  EXPECT_TRUE((*writer)->Commit().ok());
  return hex;
}

TEST_F(SchedulerTest, ALeaseResumesFromEveryBlockFileAndTheNewestStreams) {
  const std::string id = Submit("r");
  Register("w1");
  const v1::Lease first = MustLease("w1");
  EXPECT_EQ(first.resume_files_size(), 0);
  auto blobs = artifacts::BlobStore::Open((dir_.path() / "blobs").string());
  ASSERT_TRUE(blobs.ok()) << blobs.status();
  auto attach = [&](const std::string& name, const std::string& kind,
                    const std::string& data) {
    const std::string hex = PutBlob(**blobs, data);
    v1::Artifact artifact;
    artifact.set_name(name);
    artifact.set_kind(kind);
    artifact.set_blob(BlobRef(hex));
    artifact.set_size_bytes(data.size());
    auto attached =
        scheduler_->AttachArtifact(id, first.fencing_token(), artifact);
    EXPECT_TRUE(attached.ok()) << attached.status();
    clock_.AdvanceMillis(1);
    return hex;
  };
  const std::string block0 =
      attach("checkpoint/block-00000.safetensors", "checkpoint", "block 0");
  const std::string old_streams =
      attach("checkpoint/streams.safetensors", "checkpoint", "streams after 0");
  const std::string block1 =
      attach("checkpoint/block-00001.safetensors", "checkpoint", "block 1");
  const std::string streams =
      attach("checkpoint/streams.safetensors", "checkpoint", "streams after 1");
  const std::string report = attach("report.json", "report", "{}");

  clock_.AdvanceSeconds(11);  // The lease expires; attempt 2 follows.
  scheduler_->Tick();
  clock_.AdvanceSeconds(1);
  const v1::Lease second = MustLease("w1");
  EXPECT_EQ(second.job().attempt(), 2u);
  std::vector<std::string> names;
  std::vector<std::string> refs;
  for (const v1::Artifact& file : second.resume_files()) {
    names.push_back(file.name());
    refs.push_back(file.blob());
    EXPECT_EQ(file.kind(), "checkpoint");
  }
  EXPECT_THAT(names, ElementsAre("checkpoint/block-00000.safetensors",
                                 "checkpoint/block-00001.safetensors",
                                 "checkpoint/streams.safetensors"));
  EXPECT_THAT(refs,
              ElementsAre(BlobRef(block0), BlobRef(block1), BlobRef(streams)));

  // The replaced streams blob is no longer referenced: the server's
  // maintenance (QuantdServer::RunMaintenance) collects it, past the
  // retention, and keeps every blob a lease or a listing can name.
  auto referenced = scheduler_->ReferencedBlobs();
  ASSERT_TRUE(referenced.ok()) << referenced.status();
  auto report_gc = (*blobs)->CollectGarbage(
      [&](const std::string& hex) { return referenced->count(hex) > 0; },
      absl::ToUnixMillis(absl::Now()) + 7200 * 1000, 3600);
  ASSERT_TRUE(report_gc.ok()) << report_gc.status();
  EXPECT_EQ(report_gc->removed_blobs, 1u);
  EXPECT_FALSE((*blobs)->Contains(old_streams));
  for (const std::string& kept : {block0, block1, streams, report}) {
    EXPECT_TRUE((*blobs)->Contains(kept)) << kept;
  }
}

TEST_F(SchedulerTest, ListPaginatesAndHidesOtherTenants) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Submit("r" + std::to_string(i)));
  Submit("x", 0, Caller{"other"});
  v1::ListJobsRequest request;
  request.set_page_size(2);
  std::vector<std::string> seen;
  for (int page = 0; page < 5; ++page) {
    auto response = scheduler_->List({}, request);
    ASSERT_TRUE(response.ok()) << response.status();
    for (const auto& job : response->jobs()) seen.push_back(job.id());
    if (response->next_page_token().empty()) break;
    request.set_page_token(response->next_page_token());
    if (page == 0) Submit("concurrent");
  }
  EXPECT_THAT(seen, ElementsAre(ids[4], ids[3], ids[2], ids[1], ids[0]));
  EXPECT_EQ(scheduler_->Get(Caller{"other"}, ids[0]).status().code(),
            absl::StatusCode::kNotFound);
  v1::ListJobsRequest foreign;
  foreign.set_tenant("other");
  EXPECT_EQ(scheduler_->List({}, foreign).status().code(),
            absl::StatusCode::kPermissionDenied);
  v1::ListJobsRequest bad;
  bad.set_page_token("!!");
  EXPECT_EQ(scheduler_->List({}, bad).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace quantd::scheduler
