// QuantdServer assembles the gRPC side of quantd: JobService and
// WorkerGateway on the callback API, grpc.health.v1 (NOT_SERVING while the
// store fails its periodic check), server reflection, and a maintenance
// loop (health, blob garbage collection, blob store size gauge). It is the
// Scheduler's listener: committed events go to watchers, queue changes to
// long-polling workers. Transport security (TLS credentials) and per-call
// authentication and audit (CallGuard) are configured here too; the unary
// calls' blocking work runs on its two HandlerPools (handler_pool.h).
//
// Ownership: borrows the scheduler, blob store, tenant storage and metrics,
// which must outlive it; call Shutdown() before destroying it and stop the
// scheduler in between. Thread-safety: safe from any thread.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "server/api/blob_transfer.h"
#include "server/api/call_guard.h"
#include "server/api/event_hub.h"
#include "server/api/handler_pool.h"
#include "server/api/job_service.h"
#include "server/api/lease_dispatcher.h"
#include "server/api/watch_reactor.h"
#include "server/api/worker_gateway.h"
#include "server/artifacts/blob_store.h"
#include "server/metrics/server_metrics.h"
#include "server/scheduler/scheduler.h"
#include "server/tenancy/tenant_storage.h"
#include "spdlog/logger.h"

namespace quantd::api {

struct ServerOptions {
  // "host:port"; port 0 picks a free one (see QuantdServer::port()).
  std::string listen = "127.0.0.1:7070";
  // Null: plaintext. From auth::ServerTls otherwise.
  std::shared_ptr<grpc::ServerCredentials> credentials;
  // Largest message received or sent on any call or stream, bytes.
  // Default 16 MiB (upload chunks are 1 MiB).
  int max_message_bytes = 16 << 20;
  // Authentication, authorization, audit and request limits.
  GuardOptions guard;
  // Uploads' per-tenant quota and memory; borrowed, required.
  tenancy::TenantStorage* storage = nullptr;
  // SubmitJob (model inspection, then the commit) runs on one pool, the
  // other unary calls (short store transactions) on the other, so slow
  // model reads never hold up reads. Defaults: 4 threads each, 1024 queued.
  HandlerPoolOptions submit_pool{.name = "quantd-submit"};
  HandlerPoolOptions store_pool{.name = "quantd-store"};
  TransferOptions transfer;
  WatchOptions watch;
  // How often the store is pinged for grpc.health.v1. Default 5 s.
  double health_check_interval_seconds = 5;
  // How often unreferenced blobs are collected, and how old they must be.
  // Defaults 3600 s and 86400 s.
  double gc_interval_seconds = 3600;
  int64_t blob_retention_seconds = 86400;
  // Where the store and blobs live; its file system's free space is
  // exported as a metric. Empty: not reported.
  std::string data_dir;
};

class QuantdServer : public scheduler::SchedulerListener {
 public:
  // Builds and starts the server, and registers itself as the scheduler's
  // listener.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<QuantdServer>> Start(
      const ServerOptions& options, scheduler::Scheduler* scheduler,
      artifacts::BlobStore* blobs, metrics::ServerMetrics* metrics,
      std::shared_ptr<spdlog::logger> log);
  ~QuantdServer() override;

  int port() const { return port_; }
  // Answers pending long-polls, then stops accepting calls and waits up to
  // `grace` for running ones (streams still open then are cancelled).
  void Shutdown(absl::Duration grace);

  void OnJobEvents(const std::string& job_id,
                   const std::vector<quantd::v1::JobEvent>& events) override;
  void OnQueueChanged() override;

  // One round of health check, garbage collection and gauges.
  void RunMaintenance();

 private:
  QuantdServer(const ServerOptions& options, scheduler::Scheduler* scheduler,
               artifacts::BlobStore* blobs, metrics::ServerMetrics* metrics,
               std::shared_ptr<spdlog::logger> log);
  void SetServing(bool serving);

  const ServerOptions options_;
  scheduler::Scheduler* const scheduler_;
  artifacts::BlobStore* const blobs_;
  metrics::ServerMetrics* const metrics_;
  std::shared_ptr<spdlog::logger> log_;
  EventHub hub_;
  CallGuard guard_;
  HandlerPool submit_pool_;
  HandlerPool store_pool_;
  LeaseDispatcher dispatcher_;
  JobServiceImpl jobs_;
  WorkerGatewayImpl workers_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  absl::Time last_gc_ = absl::InfinitePast();
  absl::Notification stop_;
  std::thread maintenance_;
  bool shut_down_ = false;
};

}  // namespace quantd::api
