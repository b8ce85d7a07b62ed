#include "server/metrics/server_metrics.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"

namespace quantd::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Exposition(prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

TEST(ServerMetricsTest, ExposesEveryFamilyWithBoundedLabels) {
  prometheus::Registry registry;
  ServerMetrics metrics(registry);
  metrics.JobSubmitted("osplus", "4");
  metrics.JobSubmitted("osplus", "4");
  metrics.JobFinished("osplus", "4", "succeeded");
  metrics.LeaseGranted();
  metrics.LeaseExpired();
  metrics.ObserveJobDuration(3.5);
  metrics.ObserveQueueWait(0.02);
  metrics.SetWorkersConnected(2);
  metrics.SetBlobStoreBytes(1024);
  const std::string text = Exposition(registry);
  EXPECT_THAT(
      text,
      HasSubstr("quantd_jobs_submitted_total{bits=\"4\",method=\"osplus\"} 2"));
  EXPECT_THAT(text, HasSubstr("quantd_jobs_finished_total{bits=\"4\","
                              "method=\"osplus\",outcome=\"succeeded\"} 1"));
  EXPECT_THAT(text, HasSubstr("quantd_leases_granted_total 1"));
  EXPECT_THAT(text, HasSubstr("quantd_lease_expiries_total 1"));
  EXPECT_THAT(text, HasSubstr("quantd_job_duration_seconds_count 1"));
  EXPECT_THAT(text, HasSubstr("quantd_queue_wait_seconds_count 1"));
  EXPECT_THAT(text, HasSubstr("quantd_workers_connected 2"));
  EXPECT_THAT(text, HasSubstr("quantd_blob_store_bytes 1024"));
}

TEST(ServerMetricsTest, QueueDepthDropsToZeroForEmptiedPriorities) {
  prometheus::Registry registry;
  ServerMetrics metrics(registry);
  metrics.SetQueueDepth({{0, 3}, {5, 1}});
  metrics.SetQueueDepth({{0, 2}});
  const std::string text = Exposition(registry);
  EXPECT_THAT(text, HasSubstr("quantd_queue_depth{priority=\"0\"} 2"));
  EXPECT_THAT(text, HasSubstr("quantd_queue_depth{priority=\"5\"} 0"));
  EXPECT_THAT(text, Not(HasSubstr("job_id")));
}

TEST(MetricsEndpointTest, BindsAnEphemeralPort) {
  auto registry = std::make_shared<prometheus::Registry>();
  auto endpoint = MetricsEndpoint::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  EXPECT_GT((*endpoint)->port(), 0);
}

}  // namespace
}  // namespace quantd::metrics
