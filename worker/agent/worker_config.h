// The configuration keys of quantd-worker (flags --<key>, environment
// QUANTD_<KEY>, or a YAML file; see common/config.h) and their translation
// into WorkerOptions.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "worker/agent/channel_credentials.h"
#include "worker/agent/worker.h"

namespace quantd::agent {

// Keys: scheduler, token, worker-id, work-dir, engine, engine-device,
// engine-threads, data-dir, checkpoint-upload-interval-seconds,
// max-concurrent-jobs, lease-wait-seconds, heartbeat-seconds,
// cancel-grace-seconds, rpc-timeout-seconds, engine-max-address-space-bytes,
// engine-max-open-files, keep-failed-work-dirs, metrics-listen,
// nvidia-smi, tls.enabled, tls.ca, tls.cert, tls.key, tls.server_name,
// log.format, log.levels.
ConfigSchema WorkerConfigSchema();

// WorkerOptions from a Config loaded with WorkerConfigSchema(). An empty
// worker-id becomes `hostname`; a data-dir that is not a directory is an
// InvalidArgument naming the key.
[[nodiscard]] absl::StatusOr<WorkerOptions> WorkerOptionsFromConfig(
    const Config& config, const std::string& hostname);

// The TLS settings of the channel to quantd. TLS is on when tls.enabled or
// any of tls.ca, tls.cert, tls.key is set. InvalidArgument naming the key
// for a client certificate without its key (or the reverse), tls.enabled
// given as false next to TLS files, a tls.server_name without TLS or one
// that is not a host name. The files are read later, by
// CreateSchedulerChannel.
[[nodiscard]] absl::StatusOr<ChannelTlsOptions> TlsOptionsFromConfig(
    const Config& config);

// This machine's hostname, or "worker" when it has none.
std::string Hostname();

}  // namespace quantd::agent
