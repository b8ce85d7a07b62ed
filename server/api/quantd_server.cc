#include "server/api/quantd_server.h"

#include <sys/statvfs.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace quantd::api {
namespace {

// Request metadata (tokens included) beyond this is refused by gRPC.
constexpr int kMaxMetadataBytes = 16 << 10;

}  // namespace

QuantdServer::QuantdServer(const ServerOptions& options,
                           scheduler::Scheduler* scheduler,
                           artifacts::BlobStore* blobs,
                           metrics::ServerMetrics* metrics,
                           std::shared_ptr<spdlog::logger> log)
    : options_(options),
      scheduler_(scheduler),
      blobs_(blobs),
      metrics_(metrics),
      log_(log),
      guard_(options.guard),
      submit_pool_(options.submit_pool, &guard_, log),
      store_pool_(options.store_pool, &guard_, log),
      dispatcher_(scheduler, log),
      jobs_(scheduler, blobs,
            JobServiceParts{&hub_, &guard_, options.storage, &submit_pool_,
                            &store_pool_},
            options.transfer, options.watch, log),
      workers_(scheduler, blobs, &dispatcher_, &guard_, &store_pool_,
               options.transfer, log) {}

absl::StatusOr<std::unique_ptr<QuantdServer>> QuantdServer::Start(
    const ServerOptions& options, scheduler::Scheduler* scheduler,
    artifacts::BlobStore* blobs, metrics::ServerMetrics* metrics,
    std::shared_ptr<spdlog::logger> log) {
  if (options.storage == nullptr) {
    return absl::InvalidArgumentError("ServerOptions.storage is required");
  }
  std::unique_ptr<QuantdServer> server(
      new QuantdServer(options, scheduler, blobs, metrics, std::move(log)));
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen,
                           options.credentials != nullptr
                               ? options.credentials
                               : grpc::InsecureServerCredentials(),
                           &server->port_);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, kMaxMetadataBytes);
  builder.RegisterService(&server->jobs_);
  builder.RegisterService(&server->workers_);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen));
  }
  scheduler->SetListener(server.get());
  server->dispatcher_.Start();
  server->RunMaintenance();
  QuantdServer* raw = server.get();
  server->maintenance_ = std::thread([raw] {
    const absl::Duration interval =
        absl::Seconds(raw->options_.health_check_interval_seconds);
    while (!raw->stop_.WaitForNotificationWithTimeout(interval)) {
      raw->RunMaintenance();
    }
  });
  return server;
}

QuantdServer::~QuantdServer() { Shutdown(absl::ZeroDuration()); }

void QuantdServer::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (maintenance_.joinable()) maintenance_.join();
  dispatcher_.Stop();
  log_->info("long-polls answered; stopping the gRPC server");
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now() +
                      absl::ToChronoMilliseconds(grace));
  }
  // Every call has finished, queued ones included (handler_pool.h).
  submit_pool_.Stop();
  store_pool_.Stop();
}

void QuantdServer::OnJobEvents(
    const std::string& job_id,
    const std::vector<quantd::v1::JobEvent>& events) {
  hub_.Publish(job_id, events);
}

void QuantdServer::OnQueueChanged() { dispatcher_.Notify(); }

void QuantdServer::SetServing(bool serving) {
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus(serving);
  for (const char* service :
       {"quantd.v1.JobService", "quantd.v1.WorkerGateway"}) {
    health->SetServingStatus(service, serving);
  }
}

void QuantdServer::RunMaintenance() {
  absl::Status store = scheduler_->CheckStore();
  if (!store.ok())
    log_->error("health: store check failed: {}", store.ToString());
  SetServing(store.ok());
  if (metrics_ != nullptr) {
    metrics_->SetStoreHealthy(store.ok());
    struct statvfs fs;
    if (!options_.data_dir.empty() &&
        statvfs(options_.data_dir.c_str(), &fs) == 0) {
      metrics_->SetDataDirSpace(
          static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize,
          static_cast<uint64_t>(fs.f_blocks) * fs.f_frsize);
    }
  }
  const absl::Time now = absl::Now();
  if (store.ok() &&
      now - last_gc_ >= absl::Seconds(options_.gc_interval_seconds)) {
    last_gc_ = now;
    auto referenced = scheduler_->ReferencedBlobs();
    if (referenced.ok()) {
      auto report = blobs_->CollectGarbage(
          [&](const std::string& hex) { return referenced->count(hex) > 0; },
          absl::ToUnixMillis(now), options_.blob_retention_seconds);
      if (report.ok() && report->removed_blobs > 0) {
        log_->info("gc: removed {} blobs ({} bytes)", report->removed_blobs,
                   report->removed_bytes);
      }
    }
  }
  auto bytes = blobs_->TotalBytes();
  if (bytes.ok() && metrics_ != nullptr) metrics_->SetBlobStoreBytes(*bytes);
}

}  // namespace quantd::api
