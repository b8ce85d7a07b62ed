#include "server/store/sqlite_store.h"

#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "server/store/job_store_conformance.h"

namespace quantd::store {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the test's temp dir, removed at exit.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::path(testing::TempDir()) /
            ("sqlite_store_" + std::to_string(::getpid()) + "_" +
             std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::unique_ptr<JobStore> MakeSqliteStore() {
  static auto* dirs = new std::vector<std::unique_ptr<TempDir>>();
  dirs->push_back(std::make_unique<TempDir>());
  auto store = SqliteJobStore::Open(
      {.path = (dirs->back()->path() / "quantd.db").string()});
  if (!store.ok()) {
    ADD_FAILURE() << store.status();
    return nullptr;
  }
  return std::move(*store);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, JobStoreConformanceTest,
                         testing::Values(JobStoreFactory{"sqlite",
                                                         MakeSqliteStore}),
                         [](const auto& info) { return info.param.name; });

TEST(SqliteJobStoreTest, DataSurvivesReopen) {
  TempDir dir;
  const std::string path = (dir.path() / "quantd.db").string();
  {
    auto store = SqliteJobStore::Open({.path = path});
    ASSERT_TRUE(store.ok()) << store.status();
    JobRecord job;
    job.id = "j-1";
    job.tenant = "acme";
    job.request_id = "r";
    ASSERT_TRUE((*store)->CreateJob(job, {"created"}, 5, 0).ok());
  }
  auto store = SqliteJobStore::Open({.path = path});
  ASSERT_TRUE(store.ok()) << store.status();
  auto job = (*store)->GetJob("j-1");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->last_sequence, 1u);
}

TEST(SqliteJobStoreTest, RefusesADatabaseFromANewerSchema) {
  TempDir dir;
  const std::string path = (dir.path() / "quantd.db").string();
  ASSERT_TRUE(SqliteJobStore::Open({.path = path}).ok());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE schema_version SET version = 999", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ(SqliteJobStore::Open({.path = path}).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(SqliteJobStoreTest, UnopenablePathIsUnavailable) {
  EXPECT_EQ(SqliteJobStore::Open({.path = "/nonexistent-dir/x/quantd.db"})
                .status()
                .code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace quantd::store
