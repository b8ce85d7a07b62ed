// Worker: the lease loop of quantd-worker. It registers with the
// scheduler, long-polls LeaseJob while it has room for another job, runs
// each lease with a JobRunner, and keeps a Heartbeat thread that renews the
// leases and carries cancel and revoke requests to the runners.
//
// Stop() (on SIGTERM) ends leasing, releases the running jobs (their
// engines get SIGTERM; pending checkpoint uploads finish; CompleteJob with
// release = true) and makes Run() return once every runner has ended.
//
// Thread-safety: Run() is called once; Stop() is safe from any thread.
// Does not own the client or the metrics, which must outlive it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "quantd/v1/worker.pb.h"
#include "spdlog/logger.h"
#include "worker/agent/call_canceller.h"
#include "worker/agent/gateway_client.h"
#include "worker/agent/grpc_job_reporter.h"
#include "worker/agent/heartbeat.h"
#include "worker/agent/job_runner.h"
#include "worker/agent/retry.h"
#include "worker/agent/worker_metrics.h"

namespace quantd::agent {

struct WorkerOptions {
  // Stable across restarts, e.g. the hostname.
  std::string worker_id;
  // Long-poll wait of LeaseJob, 0..60 s. Default 30 s.
  absl::Duration lease_wait = absl::Seconds(30);
  // Used when the scheduler gives no heartbeat interval. Default 10 s.
  absl::Duration default_heartbeat_interval = absl::Seconds(10);
  // Jobs run at once. Default 1.
  uint32_t max_concurrent_jobs = 1;
  // Backoff between failed RegisterWorker/LeaseJob calls.
  RetryPolicy reconnect{.initial_backoff = absl::Milliseconds(200),
                        .max_backoff = absl::Seconds(15)};
  JobRunnerOptions runner;
  ReporterOptions reporter;
  // Downloads of blob inputs.
  RetryPolicy download_retry;
};

class Worker {
 public:
  // `metrics` may be null; `device_memory_used` may be empty.
  Worker(WorkerOptions options, quantd::v1::WorkerCapabilities capabilities,
         GatewayClient& client, WorkerMetrics* metrics,
         std::function<uint64_t()> device_memory_used,
         std::shared_ptr<spdlog::logger> log);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Blocks until Stop() and the release of every job. Errors: the
  // scheduler refused the registration for good (e.g. UNAUTHENTICATED).
  [[nodiscard]] absl::Status Run();
  void Stop();

  // Jobs running now (for tests and logs).
  size_t running_jobs() const;

 private:
  absl::Status Register();
  std::unique_ptr<Heartbeat> MakeHeartbeat();
  // One LeaseJob long poll; starts a runner when a lease arrives.
  absl::Status LeaseOnce();
  void StartRunner(quantd::v1::Lease lease);
  void ReapFinished() ABSL_LOCKS_EXCLUDED(mu_);
  bool HasRoom() const;
  void WaitForRoom();
  void ReleaseAll();
  std::vector<quantd::v1::HeldLease> HeldLeases() const;
  void OnHeartbeat(const quantd::v1::HeartbeatResponse& response);
  void OnHeartbeatError(const absl::Status& status);
  bool TakeReregister();

  const WorkerOptions options_;
  const quantd::v1::WorkerCapabilities capabilities_;
  GatewayClient& client_;
  WorkerMetrics* const metrics_;
  const std::function<uint64_t()> device_memory_used_;
  std::shared_ptr<spdlog::logger> log_;
  absl::Notification stop_;
  CallCanceller long_polls_;
  absl::Duration heartbeat_interval_;

  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<JobRunner>> runners_
      ABSL_GUARDED_BY(mu_);
  // A runner ended (it can be reaped) or Stop() was called.
  bool changed_ ABSL_GUARDED_BY(mu_) = false;
  bool reregister_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace quantd::agent
