#include "worker/agent/worker_config.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
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
      .AddInt("engine-threads", 0,
              "--threads passed to the engine (0: its default, all cores); "
              "a resumed job is byte-identical only with the same count",
              0, 4096)
      .AddString("data-dir", "",
                 "default datasets of the engine (wiki.valid.tokens, "
                 "wiki.test.raw), passed as --data-dir (empty: the engine's "
                 "$QUANTD_DATA_DIR)")
      .AddDouble("checkpoint-upload-interval-seconds", 60,
                 "least time between the starts of two checkpoint uploads "
                 "of a job (0: as soon as the previous one ends)",
                 0, 86400)
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
      .AddBool("tls.enabled", false,
               "use TLS to quantd (implied by tls.ca, tls.cert, tls.key)")
      .AddString("tls.ca", "",
                 "PEM CA bundle that signed quantd's certificate (empty: "
                 "the system roots)")
      .AddString("tls.cert", "",
                 "PEM client certificate for quantd's mutual TLS (needs "
                 "tls.key)")
      .AddString("tls.key", "",
                 "PEM private key of tls.cert, unencrypted (needs tls.cert)")
      .AddString("tls.server_name", "",
                 "host name expected in quantd's certificate (empty: the "
                 "host of --scheduler)")
      .AddString("log.format", "text", "log format", {"text", "json"})
      .AddString("log.levels", "info", "log levels, e.g. info,worker=debug");
  return schema;
}

namespace {

// The engine flags that come from the configuration.
absl::StatusOr<std::vector<std::string>> EngineArgs(const Config& config) {
  std::vector<std::string> args;
  if (const std::string& device = config.GetString("engine-device");
      !device.empty()) {
    args.insert(args.end(), {"--device", device});
  }
  if (const int64_t threads = config.GetInt("engine-threads"); threads > 0) {
    args.insert(args.end(), {"--threads", absl::StrCat(threads)});
  }
  if (const std::string& data_dir = config.GetString("data-dir");
      !data_dir.empty()) {
    std::error_code error;
    const std::filesystem::path absolute =
        std::filesystem::absolute(data_dir, error);
    if (error || !std::filesystem::is_directory(absolute, error)) {
      return InvalidFieldError(
          "data-dir", absl::StrCat("\"", data_dir, "\" is not a directory"));
    }
    args.insert(args.end(), {"--data-dir", absolute.string()});
  }
  return args;
}

// A DNS name or IP address: 1..253 characters of [A-Za-z0-9.:-] (':' for
// IPv6), not starting with '-' or '.'.
bool IsHostName(const std::string& name) {
  if (name.empty() || name.size() > 253 || name[0] == '-' || name[0] == '.') {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
           c == '-' || c == ':';
  });
}

}  // namespace

absl::StatusOr<ChannelTlsOptions> TlsOptionsFromConfig(const Config& config) {
  ChannelTlsOptions tls;
  tls.ca_file = config.GetString("tls.ca");
  tls.cert_file = config.GetString("tls.cert");
  tls.key_file = config.GetString("tls.key");
  tls.server_name = config.GetString("tls.server_name");
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return InvalidFieldError(tls.cert_file.empty() ? "tls.cert" : "tls.key",
                             "a client certificate needs both tls.cert and "
                             "tls.key");
  }
  const bool has_files = !tls.ca_file.empty() || !tls.cert_file.empty();
  if (has_files && !config.GetBool("tls.enabled") &&
      config.SourceOf("tls.enabled") != "default") {
    return InvalidFieldError("tls.enabled",
                             "is false but tls.ca or tls.cert is set");
  }
  tls.enabled = config.GetBool("tls.enabled") || has_files;
  if (!tls.server_name.empty()) {
    if (!tls.enabled) {
      return InvalidFieldError("tls.server_name",
                               "needs TLS (tls.enabled, tls.ca or tls.cert)");
    }
    if (!IsHostName(tls.server_name)) {
      return InvalidFieldError(
          "tls.server_name",
          absl::StrCat("\"", tls.server_name, "\" is not a host name"));
    }
  }
  return tls;
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
  QUANTD_ASSIGN_OR_RETURN(runner.engine_extra_args, EngineArgs(config));
  runner.relay.checkpoints.min_interval =
      absl::Seconds(config.GetDouble("checkpoint-upload-interval-seconds"));
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
