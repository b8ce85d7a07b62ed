#include "server/store/job_store_conformance.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"

namespace quantd::store {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Marks the claimed job LEASED by `worker` with a 10 s lease.
Mutator LeaseTo(const std::string& worker, int64_t now_ms) {
  return [worker, now_ms](JobRecord& job) -> absl::StatusOr<JobUpdate> {
    job.state = JobState::kLeased;
    job.worker_id = worker;
    job.fencing_token += 1;
    job.lease_expiry_ms = now_ms + 10000;
    return JobUpdate{{"leased"}, now_ms, {}};
  };
}

std::vector<std::string> Ids(const std::vector<JobRecord>& jobs) {
  std::vector<std::string> ids;
  for (const JobRecord& job : jobs) ids.push_back(job.id);
  return ids;
}

}  // namespace

void JobStoreConformanceTest::SetUp() {
  store_ = GetParam().make();
  ASSERT_NE(store_, nullptr);
}

JobRecord JobStoreConformanceTest::MakeJob(const std::string& id,
                                           const std::string& tenant,
                                           int32_t priority) {
  JobRecord job;
  job.id = id;
  job.tenant = tenant;
  job.request_id = "req-" + id;
  job.priority = priority;
  job.method = "rtn";
  job.create_time_ms = 1000;
  job.queued_time_ms = 1000;
  job.spec = std::string("spec\0bytes", 10);
  return job;
}

ClaimFilter JobStoreConformanceTest::AnyWorker(const std::string& worker_id,
                                               int64_t now_ms) {
  ClaimFilter filter;
  filter.worker_id = worker_id;
  filter.now_ms = now_ms;
  filter.device_kinds = {"cpu", "cuda"};
  filter.device_memory_bytes = 1ull << 40;
  filter.host_memory_bytes = 1ull << 40;
  filter.max_jobs_for_worker = 100;
  return filter;
}

JobRecord JobStoreConformanceTest::Create(const JobRecord& job) {
  auto outcome = store_->CreateJob(job, {"created"}, 1000, 0);
  EXPECT_TRUE(outcome.ok()) << outcome.status();
  return outcome.ok() ? outcome->committed.job : JobRecord{};
}

TEST_P(JobStoreConformanceTest, CreateAndGetRoundTripEveryField) {
  JobRecord job = MakeJob("j-1", "acme", 7);
  job.device = "cuda";
  job.device_memory_bytes = 5ull << 32;
  job.deadline_ms = 99;
  job.labels = {{"team", "ml"}, {"run", "3"}};
  auto outcome = store_->CreateJob(job, {"a", "b"}, 1234, 0);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_TRUE(outcome->created);
  ASSERT_EQ(outcome->committed.events.size(), 2u);
  EXPECT_EQ(outcome->committed.events[1].sequence, 2u);

  auto got = store_->GetJob("j-1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->tenant, "acme");
  EXPECT_EQ(got->priority, 7);
  EXPECT_EQ(got->device, "cuda");
  EXPECT_EQ(got->device_memory_bytes, 5ull << 32);
  EXPECT_EQ(got->deadline_ms, 99);
  EXPECT_EQ(got->spec, std::string("spec\0bytes", 10));
  EXPECT_EQ(got->last_sequence, 2u);
  EXPECT_EQ(got->labels, job.labels);
  EXPECT_EQ(store_->GetJob("j-missing").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(JobStoreConformanceTest, CreateIsIdempotentPerTenantAndRequestId) {
  Create(MakeJob("j-1", "acme"));
  JobRecord again = MakeJob("j-2", "acme");
  again.request_id = "req-j-1";
  auto outcome = store_->CreateJob(again, {"created"}, 1000, 0);
  ASSERT_TRUE(outcome.ok());
  EXPECT_FALSE(outcome->created);
  EXPECT_EQ(outcome->committed.job.id, "j-1");
  EXPECT_THAT(outcome->committed.events, IsEmpty());

  JobRecord other_tenant = MakeJob("j-3", "globex");
  other_tenant.request_id = "req-j-1";
  outcome = store_->CreateJob(other_tenant, {"created"}, 1000, 0);
  ASSERT_TRUE(outcome.ok());
  EXPECT_TRUE(outcome->created);
  EXPECT_EQ(store_->GetJob("j-2").status().code(), absl::StatusCode::kNotFound);
  auto found = store_->FindJobByRequestId("acme", "req-j-1");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->id, "j-1");
  found = store_->FindJobByRequestId("acme", "req-unknown");
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
}

TEST_P(JobStoreConformanceTest, QueuedLimitPerTenantIsEnforced) {
  ASSERT_TRUE(store_->CreateJob(MakeJob("j-1", "acme"), {}, 0, 2).ok());
  ASSERT_TRUE(store_->CreateJob(MakeJob("j-2", "acme"), {}, 0, 2).ok());
  EXPECT_EQ(store_->CreateJob(MakeJob("j-3", "acme"), {}, 0, 2).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(store_->CreateJob(MakeJob("j-4", "globex"), {}, 0, 2).ok());
}

TEST_P(JobStoreConformanceTest, EventsGetConsecutiveSequenceNumbers) {
  Create(MakeJob("j-1", "acme"));
  auto committed =
      store_->UpdateJob("j-1", [](JobRecord&) -> absl::StatusOr<JobUpdate> {
        return JobUpdate{{"x", "y"}, 2000, {}};
      });
  ASSERT_TRUE(committed.ok()) << committed.status();
  ASSERT_EQ(committed->events.size(), 2u);
  EXPECT_EQ(committed->events[0].sequence, 2u);
  EXPECT_EQ(committed->events[1].sequence, 3u);
  EXPECT_EQ(committed->job.last_sequence, 3u);

  auto events = store_->ListEvents("j-1", 1, 1);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].sequence, 2u);
  EXPECT_EQ((*events)[0].payload, "x");
  EXPECT_EQ((*events)[0].time_ms, 2000);
  events = store_->ListEvents("j-1", 0, 100);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 3u);
}

TEST_P(JobStoreConformanceTest, FailedMutatorWritesNothing) {
  Create(MakeJob("j-1", "acme"));
  auto result =
      store_->UpdateJob("j-1", [](JobRecord& job) -> absl::StatusOr<JobUpdate> {
        job.state = JobState::kFailed;
        return absl::FailedPreconditionError("stale token");
      });
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  auto job = store_->GetJob("j-1");
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state, JobState::kQueued);
  EXPECT_EQ(job->last_sequence, 1u);
  EXPECT_EQ(store_->UpdateJob("j-none", LeaseTo("w", 0)).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(JobStoreConformanceTest, ClaimsByPriorityThenFifo) {
  Create(MakeJob("j-1", "acme", 0));
  Create(MakeJob("j-2", "acme", 5));
  Create(MakeJob("j-3", "acme", 5));
  Create(MakeJob("j-4", "acme", -1));
  std::vector<std::string> order;
  for (int i = 0; i < 5; ++i) {
    auto claimed = store_->ClaimJob(AnyWorker("w", 2000), LeaseTo("w", 2000));
    ASSERT_TRUE(claimed.ok()) << claimed.status();
    if (!claimed->has_value()) break;
    EXPECT_EQ((*claimed)->job.state, JobState::kLeased);
    EXPECT_EQ((*claimed)->job.fencing_token, 1u);
    order.push_back((*claimed)->job.id);
  }
  EXPECT_THAT(order, ElementsAre("j-2", "j-3", "j-1", "j-4"));
}

TEST_P(JobStoreConformanceTest, ClaimHonoursBackoffAndPlacement) {
  JobRecord later = MakeJob("j-1", "acme");
  later.not_before_ms = 5000;
  Create(later);
  JobRecord big = MakeJob("j-2", "acme");
  big.device = "cuda";
  big.device_memory_bytes = 100;
  Create(big);
  JobRecord other_method = MakeJob("j-3", "acme");
  other_method.method = "osplus";
  Create(other_method);

  ClaimFilter small = AnyWorker("w", 2000);
  small.device_memory_bytes = 99;
  small.methods = {"rtn"};
  auto claimed = store_->ClaimJob(small, LeaseTo("w", 2000));
  ASSERT_TRUE(claimed.ok());
  EXPECT_FALSE(claimed->has_value());

  ClaimFilter cpu_only = AnyWorker("w", 2000);
  cpu_only.device_kinds = {"cpu"};
  claimed = store_->ClaimJob(cpu_only, LeaseTo("w", 2000));
  ASSERT_TRUE(claimed.ok() && claimed->has_value());
  EXPECT_EQ((*claimed)->job.id, "j-3");

  claimed = store_->ClaimJob(AnyWorker("w", 6000), LeaseTo("w", 6000));
  ASSERT_TRUE(claimed.ok() && claimed->has_value());
  EXPECT_EQ((*claimed)->job.id, "j-1");
}

TEST_P(JobStoreConformanceTest, ClaimHonoursWorkerAndTenantLimits) {
  Create(MakeJob("j-1", "acme"));
  Create(MakeJob("j-2", "acme"));
  Create(MakeJob("j-3", "globex"));
  ClaimFilter one_each = AnyWorker("w1", 2000);
  one_each.max_jobs_for_worker = 1;
  one_each.max_running_per_tenant = 1;
  auto claimed = store_->ClaimJob(one_each, LeaseTo("w1", 2000));
  ASSERT_TRUE(claimed.ok() && claimed->has_value());
  EXPECT_EQ((*claimed)->job.id, "j-1");
  claimed = store_->ClaimJob(one_each, LeaseTo("w1", 2000));
  ASSERT_TRUE(claimed.ok());
  EXPECT_FALSE(claimed->has_value()) << "worker w1 is full";

  one_each.worker_id = "w2";
  claimed = store_->ClaimJob(one_each, LeaseTo("w2", 2000));
  ASSERT_TRUE(claimed.ok() && claimed->has_value());
  EXPECT_EQ((*claimed)->job.id, "j-3") << "acme is at its running limit";

  auto held = store_->ListHeldJobs("w1");
  ASSERT_TRUE(held.ok());
  EXPECT_THAT(Ids(*held), ElementsAre("j-1"));
}

TEST_P(JobStoreConformanceTest, ListJobsPaginatesAndFilters) {
  for (int i = 1; i <= 5; ++i) {
    JobRecord job =
        MakeJob("j-" + std::to_string(i), i == 5 ? "globex" : "acme");
    if (i % 2 == 0) job.labels["even"] = "yes";
    Create(job);
  }
  JobQuery query;
  query.tenant = "acme";
  query.limit = 2;
  auto page = store_->ListJobs(query);
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(Ids(*page), ElementsAre("j-4", "j-3"));
  query.after_id = "j-3";
  page = store_->ListJobs(query);
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(Ids(*page), ElementsAre("j-2", "j-1"));

  JobQuery ascending;
  ascending.ascending = true;
  ascending.after_id = "j-2";
  ascending.labels = {{"even", "yes"}};
  page = store_->ListJobs(ascending);
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(Ids(*page), ElementsAre("j-4"));

  JobQuery leased;
  leased.states = {JobState::kLeased};
  page = store_->ListJobs(leased);
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(*page, IsEmpty());
}

TEST_P(JobStoreConformanceTest, DueJobsCoverExpiryCancelAndDeadline) {
  Create(MakeJob("j-1", "acme"));
  JobRecord with_deadline = MakeJob("j-2", "acme");
  with_deadline.deadline_ms = 3000;
  Create(with_deadline);
  Create(MakeJob("j-3", "acme"));
  ASSERT_TRUE(store_->ClaimJob(AnyWorker("w", 1000), LeaseTo("w", 1000)).ok());
  ASSERT_TRUE(store_
                  ->UpdateJob("j-3",
                              [](JobRecord& job) -> absl::StatusOr<JobUpdate> {
                                job.cancel_requested = true;
                                job.cancel_deadline_ms = 4000;
                                return JobUpdate{};
                              })
                  .ok());
  auto due = store_->ListDueJobs(2000);
  ASSERT_TRUE(due.ok());
  EXPECT_THAT(*due, IsEmpty());
  due = store_->ListDueJobs(3000);
  ASSERT_TRUE(due.ok());
  EXPECT_THAT(*due, ElementsAre("j-2"));
  due = store_->ListDueJobs(11000);
  ASSERT_TRUE(due.ok());
  EXPECT_THAT(*due, ElementsAre("j-1", "j-2", "j-3"));
}

TEST_P(JobStoreConformanceTest, WorkersUpsertTouchAndList) {
  WorkerRecord worker;
  worker.id = "w1";
  worker.capabilities = "caps";
  worker.device_kinds = {"cuda", "cpu"};
  worker.device_memory_bytes = 80;
  worker.methods = {"rtn", "osplus"};
  worker.max_concurrent_jobs = 2;
  ASSERT_TRUE(store_->UpsertWorker(worker).ok());
  worker.max_concurrent_jobs = 3;
  ASSERT_TRUE(store_->UpsertWorker(worker).ok());
  ASSERT_TRUE(store_->TouchWorker("w1", 777).ok());
  EXPECT_EQ(store_->TouchWorker("w9", 777).code(), absl::StatusCode::kNotFound);
  auto workers = store_->ListWorkers();
  ASSERT_TRUE(workers.ok());
  ASSERT_EQ(workers->size(), 1u);
  EXPECT_EQ((*workers)[0].max_concurrent_jobs, 3u);
  EXPECT_EQ((*workers)[0].last_seen_ms, 777);
  EXPECT_THAT((*workers)[0].device_kinds, ElementsAre("cuda", "cpu"));
  EXPECT_THAT((*workers)[0].methods, ElementsAre("rtn", "osplus"));
}

TEST_P(JobStoreConformanceTest, BlobsAndArtifactsAreTracked) {
  const std::string a(64, 'a'), b(64, 'b'), c(64, 'c');
  JobRecord job = MakeJob("j-1", "acme");
  job.input_blobs = {a};
  Create(job);
  ASSERT_TRUE(store_->PutBlob({b, 10, "model", 5}).ok());
  ASSERT_TRUE(store_->PutBlob({b, 10, "model", 5}).ok());
  auto blob = store_->GetBlob(b);
  ASSERT_TRUE(blob.ok() && blob->has_value());
  EXPECT_EQ((*blob)->size_bytes, 10u);
  auto committed =
      store_->UpdateJob("j-1", [c](JobRecord&) -> absl::StatusOr<JobUpdate> {
        return JobUpdate{
            {}, 0, {ArtifactRecord{"", "report.json", c, 3, "report", 9}}};
      });
  ASSERT_TRUE(committed.ok()) << committed.status();
  auto artifacts = store_->ListArtifacts("j-1");
  ASSERT_TRUE(artifacts.ok());
  ASSERT_EQ(artifacts->size(), 1u);
  EXPECT_EQ((*artifacts)[0].blob, c);
  auto referenced = store_->ListReferencedBlobs();
  ASSERT_TRUE(referenced.ok());
  EXPECT_EQ(*referenced, (std::set<std::string>{a, c}));
  ASSERT_TRUE(store_->DeleteBlob(b).ok());
  blob = store_->GetBlob(b);
  ASSERT_TRUE(blob.ok());
  EXPECT_FALSE(blob->has_value());
  EXPECT_TRUE(store_->Ping().ok());
}

TEST_P(JobStoreConformanceTest, QueuedCountsByPriority) {
  Create(MakeJob("j-1", "acme", 1));
  Create(MakeJob("j-2", "acme", 1));
  Create(MakeJob("j-3", "acme", -2));
  auto counts = store_->CountQueuedByPriority();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(*counts, (std::map<int32_t, int64_t>{{-2, 1}, {1, 2}}));
}

}  // namespace quantd::store
