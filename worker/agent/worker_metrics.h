// WorkerMetrics: the worker's Prometheus metrics (quantd_worker_ prefix),
// served on the worker's own port by MetricsServer:
//   quantd_worker_jobs_total{outcome}      jobs ended, by outcome:
//       succeeded, failed, cancelled, released, lost
//   quantd_worker_engine_stage_seconds{stage}   time the engine spent per
//       stage (load, calibrate, quantize, evaluate, export, other)
//   quantd_worker_device_memory_used_bytes      device memory in use
//   quantd_worker_engine_running           engine processes running now
// Labels only take those bounded values; never job ids.
//
// Thread-safety: safe to use from any thread (prometheus-cpp metrics are).
// The registry is owned by the caller and must outlive this object.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace quantd::agent {

class WorkerMetrics {
 public:
  explicit WorkerMetrics(prometheus::Registry& registry);

  // `outcome`: succeeded, failed, cancelled, released or lost.
  void JobEnded(absl::string_view outcome);
  // `stage` outside the engine's five stages is counted as "other".
  void StageFinished(absl::string_view stage, double seconds);
  void SetDeviceMemoryUsed(uint64_t bytes);
  void EngineStarted();
  void EngineStopped();

 private:
  prometheus::Family<prometheus::Counter>& jobs_;
  prometheus::Family<prometheus::Histogram>& stage_seconds_;
  prometheus::Gauge& device_memory_used_;
  prometheus::Gauge& engine_running_;
};

// Serves a registry at http://<listen>/metrics.
class MetricsServer {
 public:
  // `listen` is "host:port" (port 0 picks a free one).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& listen,
      std::shared_ptr<prometheus::Registry> registry);
  // The bound port.
  int port() const;

 private:
  explicit MetricsServer(std::unique_ptr<prometheus::Exposer> exposer)
      : exposer_(std::move(exposer)) {}
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace quantd::agent
