#include "worker/agent/worker_config.h"

#include <unistd.h>

#include "common/status.h"

namespace quantd::agent {

ConfigSchema WorkerConfigSchema() {
  ConfigSchema schema;
  schema.AddString("scheduler", "127.0.0.1:7070", "quantd address host:port")
      .AddString("token", "", "bearer token for the scheduler (empty: none)")
      .AddString("worker-id", "", "stable worker id (empty: the hostname)")
      .AddString("work-dir", "/var/lib/quantd-worker",
                 "parent directory of the per-job work dirs")
      .AddString("engine", "quantd-engine", "path of the quantd-engine binary")
      .AddString("engine-device", "",
                 "--device passed to the engine, e.g. cuda:0 (empty: its "
                 "default)")
      .AddInt("max-concurrent-jobs", 1, "jobs run at once", 1, 64)
      .AddDouble("lease-wait-seconds", 30, "LeaseJob long-poll wait", 0, 60)
      .AddDouble("heartbeat-seconds", 10,
                 "heartbeat interval when the scheduler gives none", 0.05, 3600)
      .AddDouble("cancel-grace-seconds", 30,
                 "time between SIGTERM and SIGKILL of a stopped engine", 0,
                 3600)
      .AddDouble("rpc-timeout-seconds", 30, "deadline of unary calls", 0.1,
                 3600)
      .AddInt("engine-max-address-space-bytes", 0,
              "engine RLIMIT_AS (0: unlimited; leave 0 on CUDA hosts)", 0)
      .AddInt("engine-max-open-files", 4096,
              "engine RLIMIT_NOFILE (0: inherited)", 0, 1 << 20)
      .AddBool("keep-failed-work-dirs", false,
               "keep a failed job's work dir for a post-mortem")
      .AddString("metrics-listen", "127.0.0.1:9465",
                 "Prometheus /metrics address (empty or \"off\": none)")
      .AddString("nvidia-smi", "nvidia-smi",
                 "nvidia-smi for device memory in use (empty or \"off\": "
                 "not queried)")
      .AddString("log.format", "text", "log format", {"text", "json"})
      .AddString("log.levels", "info", "log levels, e.g. info,worker=debug");
  return schema;
}

absl::StatusOr<WorkerOptions> WorkerOptionsFromConfig(
    const Config& config, const std::string& hostname) {
  WorkerOptions options;
  options.worker_id = config.GetString("worker-id");
  if (options.worker_id.empty()) options.worker_id = hostname;
  options.lease_wait = absl::Seconds(config.GetDouble("lease-wait-seconds"));
  options.default_heartbeat_interval =
      absl::Seconds(config.GetDouble("heartbeat-seconds"));
  options.max_concurrent_jobs =
      static_cast<uint32_t>(config.GetInt("max-concurrent-jobs"));
  JobRunnerOptions& runner = options.runner;
  runner.work_root = config.GetString("work-dir");
  if (runner.work_root.empty()) {
    return InvalidFieldError("work-dir", "must not be empty");
  }
  runner.engine_path = config.GetString("engine");
  if (const std::string& device = config.GetString("engine-device");
      !device.empty()) {
    runner.engine_extra_args = {"--device", device};
  }
  runner.cancel_grace = absl::Seconds(config.GetDouble("cancel-grace-seconds"));
  runner.max_address_space_bytes =
      static_cast<uint64_t>(config.GetInt("engine-max-address-space-bytes"));
  runner.max_open_files =
      static_cast<uint64_t>(config.GetInt("engine-max-open-files"));
  runner.keep_failed_work_dirs = config.GetBool("keep-failed-work-dirs");
  return options;
}

std::string Hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') {
    return "worker";
  }
  return name;
}

}  // namespace quantd::agent
