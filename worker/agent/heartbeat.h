// Heartbeat: the thread that keeps a worker's leases alive. Every interval
// (the one the scheduler gave at registration) it sends the leases held and
// the device memory in use, and hands the answer — jobs to cancel, leases
// revoked — to the worker. A NOT_FOUND means the scheduler no longer knows
// the worker (it restarted with an empty store): the worker re-registers.
//
// Thread-safety: Start()/Stop() belong to the owner; the callbacks run on
// the heartbeat thread. Does not own the client.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "quantd/v1/worker.pb.h"
#include "spdlog/logger.h"
#include "worker/agent/gateway_client.h"
#include "worker/agent/worker_metrics.h"

namespace quantd::agent {

struct HeartbeatHooks {
  // The leases to renew now.
  std::function<std::vector<quantd::v1::HeldLease>()> held_leases;
  // The scheduler's answer.
  std::function<void(const quantd::v1::HeartbeatResponse&)> on_response;
  // A failed heartbeat (already logged).
  std::function<void(const absl::Status&)> on_error;
  // Device memory in use in bytes; may be empty (reports 0).
  std::function<uint64_t()> device_memory_used;
};

class Heartbeat {
 public:
  // `metrics` may be null.
  Heartbeat(GatewayClient& client, std::string worker_id,
            absl::Duration interval, HeartbeatHooks hooks,
            WorkerMetrics* metrics, std::shared_ptr<spdlog::logger> log);
  ~Heartbeat();
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

  void Start();
  // Joins the thread; no callback runs afterwards.
  void Stop();

 private:
  void Loop();
  void Beat();

  GatewayClient& client_;
  const std::string worker_id_;
  const absl::Duration interval_;
  const HeartbeatHooks hooks_;
  WorkerMetrics* const metrics_;
  std::shared_ptr<spdlog::logger> log_;
  std::thread thread_;
  absl::Notification stop_;
  // Logs only the first of a run of failures.
  bool failing_ = false;
};

}  // namespace quantd::agent
