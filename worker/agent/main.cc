// quantd-worker: registers with quantd, leases jobs and runs each as a
// child quantd-engine process (docs/formats/engine-protocol.md). SIGTERM or
// SIGINT stops leasing, releases the running jobs and exits.
// Exit codes: 0 clean stop, 1 runtime failure, 2 bad configuration.
#include <pthread.h>
#include <signal.h>

#include <iostream>
#include <memory>
#include <thread>
#include <utility>

#include "CLI/CLI.hpp"
#include "common/config.h"
#include "common/config_flags.h"
#include "common/logging.h"
#include "common/status.h"
#include "prometheus/registry.h"
#include "worker/agent/capabilities.h"
#include "worker/agent/channel_credentials.h"
#include "worker/agent/child_process.h"
#include "worker/agent/gateway_client.h"
#include "worker/agent/job_workspace.h"
#include "worker/agent/worker.h"
#include "worker/agent/worker_config.h"
#include "worker/agent/worker_metrics.h"

namespace {

using quantd::agent::Worker;

// Signals are taken synchronously by one thread; every other thread
// (gRPC's included) is created with them blocked.
sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR1);  // Sent to itself when Run() ends on its own.
  return set;
}

std::function<uint64_t()> DeviceMemoryProbe(const std::string& nvidia_smi,
                                            spdlog::logger& log) {
  if (nvidia_smi.empty() || nvidia_smi == "off") return {};
  auto first = quantd::agent::QueryDeviceMemoryUsed(nvidia_smi);
  if (!first.ok()) {
    log.info("device memory not reported: {}", first.status().ToString());
    return {};
  }
  return [nvidia_smi] {
    return quantd::agent::QueryDeviceMemoryUsed(nvidia_smi).value_or(0);
  };
}

absl::StatusOr<std::unique_ptr<quantd::agent::MetricsServer>> StartMetrics(
    const std::string& listen, std::shared_ptr<prometheus::Registry> registry) {
  if (listen.empty() || listen == "off") return nullptr;
  return quantd::agent::MetricsServer::Start(listen, std::move(registry));
}

// Runs the worker until a stop signal (or a fatal error).
int Serve(Worker& worker, const std::shared_ptr<spdlog::logger>& log) {
  std::thread signals([&worker, log] {
    const sigset_t set = StopSignals();
    int signal = 0;
    sigwait(&set, &signal);
    if (signal != SIGUSR1) log->info("signal {}: stopping", signal);
    worker.Stop();
  });
  const absl::Status status = worker.Run();
  pthread_kill(signals.native_handle(), SIGUSR1);
  signals.join();
  if (!status.ok()) {
    log->error("{}", status.ToString());
    return 1;
  }
  log->info("stopped");
  return 0;
}

void PrepareHost(const std::string& work_root, spdlog::logger& log) {
  if (auto s = quantd::agent::BecomeChildSubreaper(); !s.ok()) {
    log.warn("engine descendants may escape cleanup: {}", s.ToString());
  }
  if (auto stale = quantd::agent::RemoveStaleWorkspaces(work_root);
      stale.ok() && *stale > 0) {
    log.info("removed {} stale work dirs", *stale);
  }
}

// The channel to quantd and its description for log lines.
absl::StatusOr<std::pair<std::shared_ptr<grpc::Channel>, std::string>>
SchedulerChannel(const quantd::Config& config) {
  const std::string& address = config.GetString("scheduler");
  QUANTD_ASSIGN_OR_RETURN(quantd::agent::ChannelTlsOptions tls,
                          quantd::agent::TlsOptionsFromConfig(config));
  QUANTD_ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel,
                          quantd::agent::CreateSchedulerChannel(address, tls));
  return std::make_pair(std::move(channel),
                        quantd::agent::DescribeSchedulerChannel(address, tls));
}

int RunWorker(const quantd::Config& config, quantd::LoggerFactory& logs) {
  auto log = logs.Get("worker");
  auto options =
      quantd::agent::WorkerOptionsFromConfig(config, quantd::agent::Hostname());
  if (!options.ok()) {
    log->error("{}", options.status().ToString());
    return 2;
  }
  auto channel = SchedulerChannel(config);
  if (!channel.ok()) {
    log->error("{}", channel.status().ToString());
    return 2;
  }
  log->info("scheduler: {}", channel->second);
  PrepareHost(options->runner.work_root, *log);
  auto capabilities = quantd::agent::ProbeEngine(options->runner.engine_path,
                                                 absl::Seconds(120));
  if (!capabilities.ok()) {
    log->error("engine probe failed: {}", capabilities.status().ToString());
    return 1;
  }
  auto registry = std::make_shared<prometheus::Registry>();
  quantd::agent::WorkerMetrics metrics(*registry);
  auto metrics_server =
      StartMetrics(config.GetString("metrics-listen"), registry);
  if (!metrics_server.ok()) {
    log->error("{}", metrics_server.status().ToString());
    return 1;
  }
  if (*metrics_server)
    log->info("metrics on port {}", (*metrics_server)->port());
  quantd::agent::GatewayClient client(
      std::move(channel->first),
      {.auth_token = config.GetString("token"),
       .rpc_timeout = absl::Seconds(config.GetDouble("rpc-timeout-seconds")),
       .target = std::move(channel->second)});
  Worker worker(*std::move(options), *std::move(capabilities), client, &metrics,
                DeviceMemoryProbe(config.GetString("nvidia-smi"), *log), log);
  return Serve(worker, log);
}

}  // namespace

int main(int argc, char** argv) {
  const sigset_t stop_signals = StopSignals();
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  CLI::App app{"quantd-worker: runs quantization jobs leased from quantd"};
  app.set_version_flag("--version", "quantd-worker 0.1.0");
  const quantd::ConfigSchema schema = quantd::agent::WorkerConfigSchema();
  quantd::ConfigFlags flags(app, schema);
  CLI11_PARSE(app, argc, argv);
  auto config = quantd::Config::Load(schema, flags.Given(),
                                     quantd::ProcessEnv(), flags.config_file());
  if (!config.ok()) {
    std::cerr << "quantd-worker: " << config.status().message() << "\n";
    return 2;
  }
  auto logs = quantd::LoggerFactory::Create(
      {.format = config->GetString("log.format"),
       .levels = config->GetString("log.levels")});
  if (!logs.ok()) {
    std::cerr << "quantd-worker: " << logs.status().message() << "\n";
    return 2;
  }
  return RunWorker(*config, **logs);
}
