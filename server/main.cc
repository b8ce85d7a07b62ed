// quantd: the scheduler daemon. Reads its configuration (flags, QUANTD_*
// environment variables, a YAML file), opens the job store and the blob
// store under the data directory, serves JobService and WorkerGateway over
// gRPC (plaintext or TLS, with bearer-token authentication unless it runs
// on loopback without a token file) and Prometheus metrics over HTTP,
// reloads tokens, certificates and the audit log on SIGHUP, and shuts down
// gracefully on SIGTERM or SIGINT.
//
// It prints "listening on HOST:PORT" and "metrics on HOST:PORT" once both
// are bound (port 0 picks free ports), and writes the same to --port_file
// when given, so tests and supervisors can find them.
#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "CLI/CLI.hpp"
#include "absl/strings/str_split.h"
#include "common/config.h"
#include "common/config_flags.h"
#include "common/logging.h"
#include "common/status.h"
#include "prometheus/registry.h"
#include "server/api/quantd_server.h"
#include "server/artifacts/blob_store.h"
#include "server/auth/security.h"
#include "server/metrics/server_metrics.h"
#include "server/scheduler/clock.h"
#include "server/scheduler/scheduler.h"
#include "server/store/store_factory.h"
#include "server/tenancy/tenant_storage.h"

namespace {

namespace fs = std::filesystem;

quantd::ConfigSchema ServerSchema() {
  quantd::ConfigSchema schema;
  schema
      .AddString("listen", "127.0.0.1:7070",
                 "gRPC listen address (port 0: any free port)")
      .AddString("metrics_listen", "127.0.0.1:9464",
                 "Prometheus /metrics listen address")
      .AddString("data_dir", "quantd-data",
                 "directory for the job store and blobs")
      .AddString("allowed_roots", "",
                 "comma-separated directories file:// URIs may point into; "
                 "a {tenant} path component confines each tenant to its own")
      .AddString("port_file", "", "write the bound ports to this file")
      .AddString("store.backend", "sqlite", "job store backend",
                 {"sqlite", "postgres"})
      .AddString("store.postgres_dsn", "",
                 "libpq connection string for store.backend=postgres")
      .AddString("store.sqlite_synchronous", "full",
                 "SQLite PRAGMA synchronous", {"full", "normal"})
      .AddDouble("lease.heartbeat_interval_seconds", 5,
                 "heartbeat interval told to workers", 0.05, 3600)
      .AddDouble("lease.timeout_seconds", 30,
                 "lease expiry without a heartbeat", 0.1, 86400)
      .AddDouble("lease.backoff_base_seconds", 2, "requeue backoff base", 0,
                 3600)
      .AddDouble("lease.backoff_max_seconds", 300, "requeue backoff cap", 0,
                 86400)
      .AddDouble("cancel.grace_seconds", 30,
                 "grace period before a cancel is forced", 0, 86400)
      .AddDouble("scheduler.tick_interval_seconds", 1,
                 "lease expiry check interval", 0.01, 60)
      .AddInt("limits.max_queued_per_tenant", 10000,
              "queued jobs per tenant (0: no limit)", 0, 10000000)
      .AddInt("limits.max_running_per_tenant", 0,
              "leased/running jobs per tenant (0: no limit)", 0, 1000000)
      .AddInt("limits.max_upload_bytes", int64_t{64} << 30,
              "largest uploaded blob", 0)
      .AddInt("limits.max_stored_bytes_per_tenant", 0,
              "bytes of blobs a tenant's jobs and uploads may keep (0: no "
              "limit)",
              0)
      .AddInt("limits.max_message_bytes", 16 << 20,
              "largest gRPC message on any call or stream", 2 << 20, 1 << 30)
      .AddInt("limits.max_request_bytes", 256 << 10,
              "largest unary JobService request", 1 << 10, 64 << 20)
      .AddInt("limits.max_string_bytes", 4096,
              "longest string field in a JobService request", 64, 1 << 20)
      .AddBool("placement.queue_unplaceable", false,
               "queue jobs no registered worker can run")
      .AddString("auth.admin_tenants", "",
                 "comma-separated tenants that may see every tenant")
      .AddInt("blobs.retention_seconds", 86400,
              "age before an unreferenced blob is collected", 0)
      .AddDouble("blobs.gc_interval_seconds", 3600,
                 "blob garbage collection interval", 1, 1e7)
      .AddDouble("health.check_interval_seconds", 5,
                 "store health check interval", 0.05, 3600)
      .AddDouble("shutdown.grace_seconds", 10,
                 "time running calls get at shutdown", 0, 3600)
      .AddString("log.format", "text", "log format", {"text", "json"})
      .AddString("log.levels", "info", "log levels, e.g. info,scheduler=debug");
  quantd::auth::AddSecurityKeys(schema);
  return schema;
}

std::vector<std::string> SplitList(const std::string& text) {
  return absl::StrSplit(text, ',', absl::SkipEmpty());
}

quantd::scheduler::SchedulerOptions SchedulerOptionsFrom(
    const quantd::Config& config) {
  quantd::scheduler::SchedulerOptions options;
  options.heartbeat_interval_seconds =
      config.GetDouble("lease.heartbeat_interval_seconds");
  options.lease_timeout_seconds = config.GetDouble("lease.timeout_seconds");
  options.backoff_base_seconds = config.GetDouble("lease.backoff_base_seconds");
  options.backoff_max_seconds = config.GetDouble("lease.backoff_max_seconds");
  options.cancel_grace_seconds = config.GetDouble("cancel.grace_seconds");
  options.tick_interval_seconds =
      config.GetDouble("scheduler.tick_interval_seconds");
  options.max_queued_per_tenant =
      static_cast<uint32_t>(config.GetInt("limits.max_queued_per_tenant"));
  options.max_running_per_tenant =
      static_cast<uint32_t>(config.GetInt("limits.max_running_per_tenant"));
  options.queue_unplaceable = config.GetBool("placement.queue_unplaceable");
  options.admin_tenants = SplitList(config.GetString("auth.admin_tenants"));
  return options;
}

quantd::api::ServerOptions ServerOptionsFrom(
    const quantd::Config& config, const quantd::auth::Security& security) {
  quantd::api::ServerOptions options;
  options.listen = config.GetString("listen");
  if (security.tls() != nullptr) {
    options.credentials = security.tls()->credentials();
  }
  options.max_message_bytes =
      static_cast<int>(config.GetInt("limits.max_message_bytes"));
  options.guard.tokens = security.tokens();
  options.guard.audit = security.audit();
  options.guard.worker_client_cert_required =
      security.verifies_worker_certificates();
  options.guard.limits.max_request_bytes =
      static_cast<size_t>(config.GetInt("limits.max_request_bytes"));
  options.guard.limits.max_string_bytes =
      static_cast<size_t>(config.GetInt("limits.max_string_bytes"));
  options.transfer.max_upload_bytes =
      static_cast<uint64_t>(config.GetInt("limits.max_upload_bytes"));
  options.health_check_interval_seconds =
      config.GetDouble("health.check_interval_seconds");
  options.gc_interval_seconds = config.GetDouble("blobs.gc_interval_seconds");
  options.data_dir = config.GetString("data_dir");
  options.blob_retention_seconds = config.GetInt("blobs.retention_seconds");
  return options;
}

std::string HostOf(const std::string& listen) {
  return listen.substr(0, listen.rfind(':'));
}

// Written to a temporary name and renamed, so a reader never sees half.
absl::Status WritePortFile(const std::string& path, int grpc_port,
                           int metrics_port) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp);
    out << "grpc=" << grpc_port << "\nmetrics=" << metrics_port << "\n";
    if (!out) return absl::UnavailableError("cannot write " + temp);
  }
  std::error_code error;
  fs::rename(temp, path, error);
  if (error) return absl::UnavailableError("cannot rename to " + path);
  return absl::OkStatus();
}

// The signals quantd handles, blocked in every thread by main() so that
// only sigwait() sees them.
sigset_t HandledSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  return signals;
}

// Reloads on SIGHUP; returns SIGTERM or SIGINT.
int ServeUntilStopped(quantd::auth::Security& security, spdlog::logger& log) {
  const sigset_t signals = HandledSignals();
  while (true) {
    int signal = 0;
    sigwait(&signals, &signal);
    if (signal != SIGHUP) return signal;
    log.info("SIGHUP: reloading tokens, TLS certificates and the audit log");
    security.Reload();
  }
}

void LogSecurity(const quantd::auth::Security& security,
                 const std::string& listen, spdlog::logger& log) {
  log.info("{}", security.Describe());
  switch (security.mode()) {
    case quantd::auth::AuthMode::kTokens:
      break;
    case quantd::auth::AuthMode::kOffLoopback:
      log.warn(
          "AUTHENTICATION IS OFF: no auth.token_file and {} is loopback; any "
          "local process may act as any tenant (quantd-tenant metadata)",
          listen);
      break;
    case quantd::auth::AuthMode::kOffByConfig:
      log.warn(
          "AUTHENTICATION IS OFF on {} (auth.insecure_allow_anonymous): "
          "every caller that reaches this port may act as any tenant",
          listen);
      break;
  }
}

// The input confinement: the tenancy sandbox and the scheduler's roots.
struct Inputs {
  quantd::tenancy::InputSandbox sandbox;
  quantd::scheduler::AllowedRoots allowed;
};

absl::StatusOr<Inputs> OpenInputs(const quantd::Config& config,
                                  const std::vector<std::string>& extra_roots) {
  std::vector<std::string> roots = SplitList(config.GetString("allowed_roots"));
  roots.insert(roots.end(), extra_roots.begin(), extra_roots.end());
  Inputs inputs;
  QUANTD_ASSIGN_OR_RETURN(inputs.sandbox,
                          quantd::tenancy::InputSandbox::Create(roots));
  QUANTD_ASSIGN_OR_RETURN(
      inputs.allowed,
      quantd::scheduler::AllowedRoots::Create(inputs.sandbox.SchedulerRoots()));
  return inputs;
}

// "listening on ..." on stdout, the port file, and the log line.
absl::Status Announce(const quantd::Config& config, int grpc_port,
                      int metrics_port, spdlog::logger& log) {
  const std::string host = HostOf(config.GetString("listen"));
  std::printf("listening on %s:%d\nmetrics on %s:%d\n", host.c_str(), grpc_port,
              HostOf(config.GetString("metrics_listen")).c_str(), metrics_port);
  std::fflush(stdout);
  if (!config.GetString("port_file").empty()) {
    QUANTD_RETURN_IF_ERROR(
        WritePortFile(config.GetString("port_file"), grpc_port, metrics_port));
  }
  log.info("quantd serving grpc_port={} metrics_port={} data_dir={}", grpc_port,
           metrics_port, config.GetString("data_dir"));
  return absl::OkStatus();
}

absl::Status Run(const quantd::Config& config,
                 const std::vector<std::string>& extra_roots,
                 quantd::LoggerFactory& logs) {
  auto log = logs.Get("main");
  const fs::path data_dir = config.GetString("data_dir");
  std::error_code error;
  fs::create_directories(data_dir, error);
  if (error) {
    return absl::UnavailableError("data_dir: cannot create " +
                                  data_dir.string() + ": " + error.message());
  }
  QUANTD_ASSIGN_OR_RETURN(
      auto store,
      quantd::store::OpenStore(
          {.backend = config.GetString("store.backend"),
           .sqlite_path = (data_dir / "quantd.db").string(),
           .sqlite_synchronous_full =
               config.GetString("store.sqlite_synchronous") == "full",
           .postgres_dsn = config.GetString("store.postgres_dsn")}));
  QUANTD_ASSIGN_OR_RETURN(auto blobs, quantd::artifacts::BlobStore::Open(
                                          (data_dir / "blobs").string()));
  QUANTD_ASSIGN_OR_RETURN(
      auto security,
      quantd::auth::Security::Open(config, config.GetString("listen"),
                                   data_dir.string(), logs.Get("auth")));
  QUANTD_ASSIGN_OR_RETURN(Inputs inputs, OpenInputs(config, extra_roots));
  quantd::scheduler::SchedulerOptions scheduler_options =
      SchedulerOptionsFrom(config);
  if (security->tokens() != nullptr) {
    // Admin tokens read and cancel as this pseudo-tenant.
    scheduler_options.admin_tenants.push_back(quantd::api::kAdminViewTenant);
  }

  auto registry = std::make_shared<prometheus::Registry>();
  quantd::metrics::ServerMetrics metrics(*registry);
  QUANTD_ASSIGN_OR_RETURN(auto endpoint,
                          quantd::metrics::MetricsEndpoint::Start(
                              config.GetString("metrics_listen"), registry));
  quantd::scheduler::SystemClock clock;
  quantd::scheduler::Scheduler scheduler(store.get(), &clock, scheduler_options,
                                         inputs.allowed, &metrics,
                                         logs.Get("scheduler"));
  quantd::artifacts::BlobStore* blob_store = blobs.get();
  scheduler.SetBlobPathLookup(
      [blob_store](const std::string& hex) -> std::optional<std::string> {
        if (!blob_store->Contains(hex)) return std::nullopt;
        return blob_store->PathOf(hex);
      });
  // The tenancy rules: applied by the scheduler to new jobs, by the API to
  // uploads.
  quantd::tenancy::TenantStorage storage(
      store.get(), blob_store,
      {.max_stored_bytes_per_tenant = static_cast<uint64_t>(
           config.GetInt("limits.max_stored_bytes_per_tenant")),
       .pending = absl::Seconds(config.GetInt("blobs.retention_seconds")),
       .sandbox = inputs.sandbox,
       .scope_blobs = security->tokens() != nullptr});
  scheduler.SetSubmitPolicy(
      [&storage](const std::string& tenant, const quantd::v1::JobSpec& spec) {
        return storage.CheckJob(tenant, spec);
      });
  quantd::api::ServerOptions server_options =
      ServerOptionsFrom(config, *security);
  server_options.storage = &storage;
  QUANTD_ASSIGN_OR_RETURN(
      auto server,
      quantd::api::QuantdServer::Start(server_options, &scheduler, blob_store,
                                       &metrics, logs.Get("api")));
  scheduler.Start();
  QUANTD_RETURN_IF_ERROR(
      Announce(config, server->port(), endpoint->port(), *log));
  LogSecurity(*security, config.GetString("listen"), *log);
  const int signal = ServeUntilStopped(*security, *log);
  log->info("signal {}: shutting down", signal);
  server->Shutdown(absl::Seconds(config.GetDouble("shutdown.grace_seconds")));
  scheduler.Stop();
  log->info("stopped");
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"quantd: quantization-as-a-service scheduler"};
  app.set_version_flag("--version", "quantd 0.1.0");
  const quantd::ConfigSchema schema = ServerSchema();
  quantd::ConfigFlags flags(app, schema);
  std::vector<std::string> extra_roots;
  app.add_option("--allowed-root", extra_roots,
                 "a directory file:// URIs may point into (repeatable)");
  CLI11_PARSE(app, argc, argv);

  auto config = quantd::Config::Load(schema, flags.Given(),
                                     quantd::ProcessEnv(), flags.config_file());
  if (!config.ok()) {
    std::cerr << "quantd: " << config.status().message() << "\n";
    return 2;
  }
  auto logs = quantd::LoggerFactory::Create(
      {.format = config->GetString("log.format"),
       .levels = config->GetString("log.levels")});
  if (!logs.ok()) {
    std::cerr << "quantd: " << logs.status().message() << "\n";
    return 2;
  }
  // Every thread started from here on inherits the mask, so the signals
  // reach only sigwait() in Run().
  const sigset_t signals = HandledSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  absl::Status status = Run(*config, extra_roots, **logs);
  if (!status.ok()) {
    (*logs)->Get("main")->error("{}", status.ToString());
    std::cerr << "quantd: " << status.message() << "\n";
    return 1;
  }
  return 0;
}
