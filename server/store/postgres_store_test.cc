#include "server/store/postgres_store.h"

#include <atomic>
#include <set>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "server/store/job_store_conformance.h"
#include "server/store/postgres_test_server.h"

namespace quantd::store {
namespace {

// One server for the whole binary: initdb takes seconds.
PostgresTestServer* Server() {
  static PostgresTestServer* server = [] {
    auto started = PostgresTestServer::Start();
    EXPECT_TRUE(started.ok()) << started.status();
    return started.ok() ? started->release() : nullptr;
  }();
  return server;
}

class ServerEnvironment : public testing::Environment {
 public:
  void TearDown() override { delete Server(); }
};
const auto* const kEnvironment =
    testing::AddGlobalTestEnvironment(new ServerEnvironment());

std::string NewDatabase() {
  if (Server() == nullptr) return "";
  auto dsn = Server()->CreateDatabase();
  EXPECT_TRUE(dsn.ok()) << dsn.status();
  return dsn.ok() ? *dsn : "";
}

std::unique_ptr<JobStore> MakePostgresStore() {
  const std::string dsn = NewDatabase();
  if (dsn.empty()) return nullptr;
  auto store = PostgresJobStore::Open(dsn);
  if (!store.ok()) {
    ADD_FAILURE() << store.status();
    return nullptr;
  }
  return std::move(*store);
}

INSTANTIATE_TEST_SUITE_P(Postgres, JobStoreConformanceTest,
                         testing::Values(JobStoreFactory{"postgres",
                                                         MakePostgresStore}),
                         [](const auto& info) { return info.param.name; });

TEST(PostgresJobStoreTest, ReplicasClaimEachJobExactlyOnce) {
  const std::string dsn = NewDatabase();
  ASSERT_FALSE(dsn.empty());
  constexpr int kJobs = 120;
  constexpr int kReplicas = 4;
  {
    auto store = PostgresJobStore::Open(dsn);
    ASSERT_TRUE(store.ok()) << store.status();
    for (int i = 0; i < kJobs; ++i) {
      JobRecord job;
      job.id = absl::StrCat("j-", 1000 + i);
      job.tenant = "acme";
      job.request_id = job.id;
      ASSERT_TRUE((*store)->CreateJob(job, {"created"}, 1, 0).ok());
    }
  }
  absl::Mutex mu;
  std::multiset<std::string> claimed;
  std::vector<std::thread> replicas;
  for (int r = 0; r < kReplicas; ++r) {
    replicas.emplace_back([&, r] {
      auto store = PostgresJobStore::Open(dsn);
      ASSERT_TRUE(store.ok()) << store.status();
      ClaimFilter filter;
      filter.worker_id = absl::StrCat("w", r);
      filter.now_ms = 10;
      filter.device_kinds = {"cpu"};
      filter.max_jobs_for_worker = kJobs;
      while (true) {
        auto got = (*store)->ClaimJob(
            filter, [&](JobRecord& job) -> absl::StatusOr<JobUpdate> {
              job.state = JobState::kLeased;
              job.worker_id = filter.worker_id;
              job.fencing_token += 1;
              return JobUpdate{{"leased"}, 10, {}};
            });
        ASSERT_TRUE(got.ok()) << got.status();
        if (!got->has_value()) break;
        absl::MutexLock lock(&mu);
        claimed.insert((*got)->job.id);
      }
    });
  }
  for (auto& replica : replicas) replica.join();
  EXPECT_EQ(claimed.size(), static_cast<size_t>(kJobs));
  EXPECT_EQ(std::set<std::string>(claimed.begin(), claimed.end()).size(),
            static_cast<size_t>(kJobs));
}

TEST(PostgresJobStoreTest, PingFailsWhenTheServerIsUnreachable) {
  // A server of its own: this test stops it.
  auto server = PostgresTestServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  auto dsn = (*server)->CreateDatabase();
  ASSERT_TRUE(dsn.ok()) << dsn.status();
  auto store = PostgresJobStore::Open(*dsn);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_TRUE((*store)->Ping().ok());
  (*server)->Stop();
  EXPECT_EQ((*store)->Ping().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ((*store)->GetJob("j-1").status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace quantd::store
