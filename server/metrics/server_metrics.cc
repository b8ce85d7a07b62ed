#include "server/metrics/server_metrics.h"

#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"

namespace quantd::metrics {
namespace {

// 1 s .. ~9 h, doubling: quantization jobs run minutes to hours.
prometheus::Histogram::BucketBoundaries DurationBuckets() {
  prometheus::Histogram::BucketBoundaries buckets;
  for (double b = 1; b <= 32768; b *= 2) buckets.push_back(b);
  return buckets;
}

// 10 ms .. ~3 h: a lease is usually granted at once, but a full queue
// waits for hours.
prometheus::Histogram::BucketBoundaries WaitBuckets() {
  prometheus::Histogram::BucketBoundaries buckets;
  for (double b = 0.01; b <= 10240; b *= 4) buckets.push_back(b);
  return buckets;
}

}  // namespace

ServerMetrics::ServerMetrics(prometheus::Registry& registry)
    : submitted_(prometheus::BuildCounter()
                     .Name("quantd_jobs_submitted_total")
                     .Help("Jobs accepted by SubmitJob.")
                     .Register(registry)),
      finished_(prometheus::BuildCounter()
                    .Name("quantd_jobs_finished_total")
                    .Help("Jobs that reached a terminal state, by outcome.")
                    .Register(registry)),
      queue_depth_(prometheus::BuildGauge()
                       .Name("quantd_queue_depth")
                       .Help("Jobs waiting in the queue, by priority.")
                       .Register(registry)),
      leases_granted_(prometheus::BuildCounter()
                          .Name("quantd_leases_granted_total")
                          .Help("Leases handed to workers.")
                          .Register(registry)
                          .Add({})),
      lease_expiries_(prometheus::BuildCounter()
                          .Name("quantd_lease_expiries_total")
                          .Help("Leases that expired without a heartbeat.")
                          .Register(registry)
                          .Add({})),
      job_duration_(prometheus::BuildHistogram()
                        .Name("quantd_job_duration_seconds")
                        .Help("From the first lease to the terminal state.")
                        .Register(registry)
                        .Add({}, DurationBuckets())),
      queue_wait_(prometheus::BuildHistogram()
                      .Name("quantd_queue_wait_seconds")
                      .Help("From entering the queue to being leased.")
                      .Register(registry)
                      .Add({}, WaitBuckets())),
      workers_connected_(prometheus::BuildGauge()
                             .Name("quantd_workers_connected")
                             .Help("Workers seen within one lease timeout.")
                             .Register(registry)
                             .Add({})),
      blob_store_bytes_(prometheus::BuildGauge()
                            .Name("quantd_blob_store_bytes")
                            .Help("Bytes held by the blob store.")
                            .Register(registry)
                            .Add({})),
      store_healthy_(prometheus::BuildGauge()
                         .Name("quantd_store_healthy")
                         .Help("1 while the job store answers its health "
                               "check, else 0.")
                         .Register(registry)
                         .Add({})),
      data_dir_available_(prometheus::BuildGauge()
                              .Name("quantd_data_dir_available_bytes")
                              .Help("Free bytes on the data dir's file system.")
                              .Register(registry)
                              .Add({})),
      data_dir_capacity_(prometheus::BuildGauge()
                             .Name("quantd_data_dir_capacity_bytes")
                             .Help("Size of the data dir's file system.")
                             .Register(registry)
                             .Add({})),
      metric_ratio_(prometheus::BuildHistogram()
                        .Name("quantd_job_metric_ratio")
                        .Help("Quantized over FP metric of succeeded jobs.")
                        .Register(registry)) {
  // The default priority's series exists from the start, so rules over the
  // queue depth see 0 rather than no data before the first tick that finds
  // a queued job.
  SetQueueDepth({{0, 0}});
}

void ServerMetrics::JobSubmitted(const std::string& method,
                                 const std::string& bits) {
  submitted_.Add({{"method", method}, {"bits", bits}}).Increment();
}

void ServerMetrics::JobFinished(const std::string& method,
                                const std::string& bits,
                                const std::string& outcome) {
  finished_.Add({{"method", method}, {"bits", bits}, {"outcome", outcome}})
      .Increment();
}

void ServerMetrics::SetQueueDepth(const std::map<int32_t, int64_t>& depth) {
  absl::MutexLock lock(&mu_);
  for (const auto& [priority, count] : depth) seen_priorities_.insert(priority);
  for (int32_t priority : seen_priorities_) {
    auto it = depth.find(priority);
    queue_depth_.Add({{"priority", absl::StrCat(priority)}})
        .Set(it == depth.end() ? 0.0 : static_cast<double>(it->second));
  }
}

void ServerMetrics::LeaseGranted() { leases_granted_.Increment(); }
void ServerMetrics::LeaseExpired() { lease_expiries_.Increment(); }
void ServerMetrics::ObserveJobDuration(double seconds) {
  job_duration_.Observe(seconds);
}
void ServerMetrics::ObserveQueueWait(double seconds) {
  queue_wait_.Observe(seconds);
}
void ServerMetrics::SetWorkersConnected(int64_t workers) {
  workers_connected_.Set(static_cast<double>(workers));
}
void ServerMetrics::SetBlobStoreBytes(uint64_t bytes) {
  blob_store_bytes_.Set(static_cast<double>(bytes));
}
void ServerMetrics::SetStoreHealthy(bool healthy) {
  store_healthy_.Set(healthy ? 1.0 : 0.0);
}
void ServerMetrics::SetDataDirSpace(uint64_t available_bytes,
                                    uint64_t capacity_bytes) {
  data_dir_available_.Set(static_cast<double>(available_bytes));
  data_dir_capacity_.Set(static_cast<double>(capacity_bytes));
}
void ServerMetrics::ObserveMetricRatio(const std::string& method,
                                       const std::string& metric,
                                       double ratio) {
  // 0.5 .. 2 finely (where good jobs land), then coarse up to 64x.
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.5,  0.9, 0.95, 0.98, 0.99, 1.0, 1.005, 1.01, 1.02,
      1.05, 1.1, 1.25, 1.5,  2.0,  4.0, 8.0,   64.0};
  metric_ratio_.Add({{"method", method}, {"metric", metric}}, kBuckets)
      .Observe(ratio);
}

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(
    const std::string& listen, std::shared_ptr<prometheus::Registry> registry) {
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    // civetweb reports a busy port by throwing from the constructor.
    exposer = std::make_unique<prometheus::Exposer>(listen);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("metrics: cannot listen on ", listen, ": ", e.what()));
  }
  exposer->RegisterCollectable(registry);
  const std::vector<int> ports = exposer->GetListeningPorts();
  if (ports.empty()) {
    return absl::UnavailableError(
        absl::StrCat("metrics: no port bound for ", listen));
  }
  const int port = ports.front();
  return std::unique_ptr<MetricsEndpoint>(
      new MetricsEndpoint(std::move(exposer), port));
}

}  // namespace quantd::metrics
