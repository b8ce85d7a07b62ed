// The configuration keys of quantd-worker (flags --<key>, environment
// QUANTD_<KEY>, or a YAML file; see common/config.h) and their translation
// into WorkerOptions.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "worker/agent/worker.h"

namespace quantd::agent {

// Keys: scheduler, token, worker-id, work-dir, engine, engine-device,
// engine-threads, data-dir, checkpoint-upload-interval-seconds,
// max-concurrent-jobs, lease-wait-seconds, heartbeat-seconds,
// cancel-grace-seconds, rpc-timeout-seconds, engine-max-address-space-bytes,
// engine-max-open-files, keep-failed-work-dirs, metrics-listen,
// nvidia-smi, log.format, log.levels.
ConfigSchema WorkerConfigSchema();

// WorkerOptions from a Config loaded with WorkerConfigSchema(). An empty
// worker-id becomes `hostname`; a data-dir that is not a directory is an
// InvalidArgument naming the key.
[[nodiscard]] absl::StatusOr<WorkerOptions> WorkerOptionsFromConfig(
    const Config& config, const std::string& hostname);

// This machine's hostname, or "worker" when it has none.
std::string Hostname();

}  // namespace quantd::agent
