// A GoogleTest suite every JobStore backend must pass. A backend's test
// file instantiates it with a factory of fresh, empty stores:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, JobStoreConformanceTest,
//                            testing::Values(JobStoreFactory{...}));
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "server/store/job_store.h"

namespace quantd::store {

struct JobStoreFactory {
  std::string name;
  // A fresh, empty store; nullptr fails the test.
  std::function<std::unique_ptr<JobStore>()> make;
};

class JobStoreConformanceTest : public testing::TestWithParam<JobStoreFactory> {
 protected:
  void SetUp() override;

  // A QUEUED job with the given id, tenant and priority.
  static JobRecord MakeJob(const std::string& id, const std::string& tenant,
                           int32_t priority = 0);
  // A filter that admits any queued job at time `now_ms`.
  static ClaimFilter AnyWorker(const std::string& worker_id, int64_t now_ms);
  // Creates `job` with no limit and returns the committed row.
  JobRecord Create(const JobRecord& job);

  std::unique_ptr<JobStore> store_;
};

}  // namespace quantd::store
