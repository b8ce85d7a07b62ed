#include "worker/agent/worker_metrics.h"

#include <exception>

#include "absl/strings/str_cat.h"

namespace quantd::agent {
namespace {

// From a tenth of a second (loading a tiny model) to a day (an OS+ search
// on a large model).
prometheus::Histogram::BucketBoundaries StageBuckets() {
  return {0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600};
}

std::string StageLabel(absl::string_view stage) {
  for (absl::string_view known :
       {"load", "calibrate", "quantize", "evaluate", "export"}) {
    if (stage == known) return std::string(known);
  }
  return "other";
}

}  // namespace

WorkerMetrics::WorkerMetrics(prometheus::Registry& registry)
    : jobs_(prometheus::BuildCounter()
                .Name("quantd_worker_jobs_total")
                .Help("Jobs this worker ended, by outcome")
                .Register(registry)),
      stage_seconds_(prometheus::BuildHistogram()
                         .Name("quantd_worker_engine_stage_seconds")
                         .Help("Time the engine spent in each stage")
                         .Register(registry)),
      device_memory_used_(prometheus::BuildGauge()
                              .Name("quantd_worker_device_memory_used_bytes")
                              .Help("Device memory in use on this worker")
                              .Register(registry)
                              .Add({})),
      engine_running_(prometheus::BuildGauge()
                          .Name("quantd_worker_engine_running")
                          .Help("Engine processes running now")
                          .Register(registry)
                          .Add({})) {}

void WorkerMetrics::JobEnded(absl::string_view outcome) {
  jobs_.Add({{"outcome", std::string(outcome)}}).Increment();
}

void WorkerMetrics::StageFinished(absl::string_view stage, double seconds) {
  stage_seconds_.Add({{"stage", StageLabel(stage)}}, StageBuckets())
      .Observe(seconds);
}

void WorkerMetrics::SetDeviceMemoryUsed(uint64_t bytes) {
  device_memory_used_.Set(static_cast<double>(bytes));
}

void WorkerMetrics::EngineStarted() { engine_running_.Increment(); }

void WorkerMetrics::EngineStopped() { engine_running_.Decrement(); }

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& listen, std::shared_ptr<prometheus::Registry> registry) {
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    // CivetWeb reports a failed bind by throwing.
    exposer = std::make_unique<prometheus::Exposer>(listen, 1);
  } catch (const std::exception& error) {
    return absl::UnavailableError(
        absl::StrCat("metrics: cannot listen on ", listen, ": ", error.what()));
  }
  exposer->RegisterCollectable(registry);
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(exposer)));
}

int MetricsServer::port() const {
  const std::vector<int> ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

}  // namespace quantd::agent
