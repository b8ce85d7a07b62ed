// kill -9 of quantd with 500 queued and 5 running jobs, then a restart on
// the same data directory: every job is still there exactly once, in a
// consistent state with a gap-free event log, the running jobs' leases still
// hold for their workers, and draining the queue hands out each queued job
// exactly once.
#include <map>
#include <set>

#include "gtest/gtest.h"
#include "tests/integration/scheduler/quantd_process.h"
#include "tests/integration/scheduler/test_clients.h"

namespace quantd::testing {
namespace {

namespace v1 = quantd::v1;

constexpr int kQueued = 500;
constexpr int kRunning = 5;

TEST(RecoveryTest, KillNineLosesAndDuplicatesNothing) {
  ScratchDir scratch;
  const std::string model_dir = scratch.path() + "/models/tiny";
  WriteTinyModel(model_dir);
  const std::vector<std::string> args = {
      "--allowed-root=" + scratch.path() + "/models",
      "--lease.timeout_seconds=600", "--shutdown.grace_seconds=2"};
  auto quantd = QuantdProcess::Start(scratch.path() + "/q", args);
  ASSERT_TRUE(quantd.ok()) << quantd.status();
  JobClient jobs((*quantd)->Channel());
  std::set<std::string> submitted;
  for (int i = 0; i < kQueued + kRunning; ++i) {
    auto job = jobs.Submit("r-" + std::to_string(i), TinySpec(model_dir));
    ASSERT_TRUE(job.ok()) << job.status();
    submitted.insert(job->id());
  }
  FakeWorker worker((*quantd)->Channel(), "w1");
  ASSERT_TRUE(worker.Register(80ull << 30, kRunning).ok());
  std::vector<v1::Lease> leases;
  for (int i = 0; i < kRunning; ++i) {
    auto lease = worker.Lease(5);
    ASSERT_TRUE(lease.ok() && lease->has_value()) << lease.status();
    ASSERT_TRUE(worker.ReportRunning(**lease).ok());
    leases.push_back(**lease);
  }
  (*quantd)->Kill();

  auto restarted = QuantdProcess::Start(scratch.path() + "/q", args);
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  JobClient after((*restarted)->Channel());
  auto ids = after.ListAllIds(97);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(ids->size(), submitted.size());
  EXPECT_EQ(std::set<std::string>(ids->begin(), ids->end()), submitted);

  std::map<v1::JobState, int> states;
  for (const std::string& id : *ids) {
    auto job = after.Get(id);
    ASSERT_TRUE(job.ok()) << job.status();
    ++states[job->state()];
    auto events = after.Watch(id, 0, job->last_sequence());
    ASSERT_TRUE(events.ok()) << events.status();
    ASSERT_EQ(events->size(), job->last_sequence()) << id;
    for (size_t i = 0; i < events->size(); ++i) {
      ASSERT_EQ((*events)[i].sequence(), i + 1) << id;
    }
  }
  EXPECT_EQ(states[v1::JOB_STATE_QUEUED], kQueued);
  EXPECT_EQ(states[v1::JOB_STATE_RUNNING], kRunning);

  // The worker that survived the crash still holds its leases.
  FakeWorker survivor((*restarted)->Channel(), "w1");
  auto beat = survivor.Heartbeat(leases);
  ASSERT_TRUE(beat.ok()) << beat.status();
  EXPECT_EQ(beat->revoked_job_ids_size(), 0);
  for (const v1::Lease& lease : leases) {
    ASSERT_TRUE(survivor.Complete(lease, v1::JOB_STATE_SUCCEEDED).ok());
  }
  // Draining the queue hands out every queued job exactly once.
  FakeWorker drainer((*restarted)->Channel(), "w2");
  ASSERT_TRUE(drainer.Register().ok());
  std::set<std::string> drained;
  for (int i = 0; i < kQueued; ++i) {
    auto lease = drainer.Lease(5);
    ASSERT_TRUE(lease.ok() && lease->has_value()) << i << " " << lease.status();
    EXPECT_TRUE(drained.insert((*lease)->job().id()).second);
    ASSERT_TRUE(drainer.Complete(**lease, v1::JOB_STATE_SUCCEEDED).ok());
  }
  auto none = drainer.Lease(0);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ((*restarted)->Terminate(), 0);
}

}  // namespace
}  // namespace quantd::testing
