#include "worker/agent/heartbeat.h"

#include <utility>

namespace quantd::agent {

Heartbeat::Heartbeat(GatewayClient& client, std::string worker_id,
                     absl::Duration interval, HeartbeatHooks hooks,
                     WorkerMetrics* metrics,
                     std::shared_ptr<spdlog::logger> log)
    : client_(client),
      worker_id_(std::move(worker_id)),
      interval_(interval),
      hooks_(std::move(hooks)),
      metrics_(metrics),
      log_(std::move(log)) {}

Heartbeat::~Heartbeat() { Stop(); }

void Heartbeat::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Heartbeat::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void Heartbeat::Loop() {
  while (!stop_.WaitForNotificationWithTimeout(interval_)) Beat();
}

void Heartbeat::Beat() {
  quantd::v1::HeartbeatRequest request;
  request.set_worker_id(worker_id_);
  for (quantd::v1::HeldLease& lease : hooks_.held_leases()) {
    *request.add_leases() = std::move(lease);
  }
  const uint64_t memory =
      hooks_.device_memory_used ? hooks_.device_memory_used() : 0;
  request.set_device_memory_used_bytes(memory);
  if (metrics_ != nullptr) metrics_->SetDeviceMemoryUsed(memory);
  // A heartbeat later than the interval is worthless: the next one follows.
  auto context = client_.NewContext(
      std::min(client_.options().rpc_timeout, interval_ * 2));
  quantd::v1::HeartbeatResponse response;
  const absl::Status status =
      FromGrpc(client_.gateway().Heartbeat(context.get(), request, &response));
  if (!status.ok()) {
    if (!failing_) log_->warn("heartbeat failed: {}", status.ToString());
    failing_ = true;
    if (hooks_.on_error) hooks_.on_error(status);
    return;
  }
  if (failing_) log_->info("heartbeat restored");
  failing_ = false;
  hooks_.on_response(response);
}

}  // namespace quantd::agent
