// The scheduler's Prometheus metrics (quantd_ prefix, base units, bounded
// labels: never a job id or a path) and the HTTP endpoint that serves them.
//
//   auto registry = std::make_shared<prometheus::Registry>();
//   ServerMetrics metrics(registry);
//   QUANTD_ASSIGN_OR_RETURN(auto endpoint,
//                           MetricsEndpoint::Start("127.0.0.1:0", registry));
//
// Thread-safety: every method is safe from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace quantd::metrics {

class ServerMetrics {
 public:
  // Registers the families on `registry`, which the caller keeps alive.
  explicit ServerMetrics(prometheus::Registry& registry);

  // `method` is a validated method name; `bits` the weight bit width ("4")
  // or "fp"; `outcome` "succeeded", "failed" or "cancelled".
  void JobSubmitted(const std::string& method, const std::string& bits);
  void JobFinished(const std::string& method, const std::string& bits,
                   const std::string& outcome);
  // Queued jobs by priority; priorities absent from `depth` read 0.
  void SetQueueDepth(const std::map<int32_t, int64_t>& depth);
  void LeaseGranted();
  void LeaseExpired();
  // From the first lease to the terminal state.
  void ObserveJobDuration(double seconds);
  // From entering the queue (submit or requeue) to a lease.
  void ObserveQueueWait(double seconds);
  void SetWorkersConnected(int64_t workers);
  void SetBlobStoreBytes(uint64_t bytes);
  // 1 while the store answers its health check, 0 otherwise.
  void SetStoreHealthy(bool healthy);
  // Free and total bytes of the file system holding the data dir.
  void SetDataDirSpace(uint64_t available_bytes, uint64_t capacity_bytes);
  // quantized / FP metric of a succeeded job (e.g. perplexity ratio), by
  // method and metric name.
  void ObserveMetricRatio(const std::string& method, const std::string& metric,
                          double ratio);

 private:
  prometheus::Family<prometheus::Counter>& submitted_;
  prometheus::Family<prometheus::Counter>& finished_;
  prometheus::Family<prometheus::Gauge>& queue_depth_;
  prometheus::Counter& leases_granted_;
  prometheus::Counter& lease_expiries_;
  prometheus::Histogram& job_duration_;
  prometheus::Histogram& queue_wait_;
  prometheus::Gauge& workers_connected_;
  prometheus::Gauge& blob_store_bytes_;
  prometheus::Gauge& store_healthy_;
  prometheus::Gauge& data_dir_available_;
  prometheus::Gauge& data_dir_capacity_;
  prometheus::Family<prometheus::Histogram>& metric_ratio_;
  absl::Mutex mu_;
  std::set<int32_t> seen_priorities_ ABSL_GUARDED_BY(mu_);
};

// Serves /metrics over HTTP on its own port.
class MetricsEndpoint {
 public:
  // `listen` is "host:port"; port 0 picks a free one.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(
      const std::string& listen,
      std::shared_ptr<prometheus::Registry> registry);
  int port() const { return port_; }

 private:
  MetricsEndpoint(std::unique_ptr<prometheus::Exposer> exposer, int port)
      : exposer_(std::move(exposer)), port_(port) {}
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_;
};

}  // namespace quantd::metrics
