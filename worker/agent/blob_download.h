// Downloading a content-addressed blob (a model, a dataset, a resume
// checkpoint file) from quantd's JobService.DownloadArtifact into a local file.
// The bytes land in "<dest>.part" and are renamed to `dest` only once their
// size and sha256 match the blob reference, so a reader never sees half a
// file. A stream that breaks is resumed from the bytes already received.
#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "worker/agent/gateway_client.h"
#include "worker/agent/retry.h"

namespace quantd::agent {

// Fetches blob `blob` ("sha256:<hex>") into the file `dest_path`. The
// seam through which a job's inputs arrive; tests substitute fakes.
using BlobDownloader = std::function<absl::Status(
    const std::string& blob, const std::string& dest_path)>;

// Downloads with `client`, retrying transient failures per `retry` and
// resuming at the offset reached. `interrupt` (may be null) ends the
// retries early. DATA_LOSS when the bytes do not hash to `blob`.
[[nodiscard]] absl::Status DownloadBlob(GatewayClient& client,
                                        const std::string& blob,
                                        const std::string& dest_path,
                                        const RetryPolicy& retry,
                                        absl::Notification* interrupt);

}  // namespace quantd::agent
