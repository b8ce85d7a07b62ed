// Uploads a local file to quantd as a content-addressed blob
// (JobService.UploadBlob): hashes it first so the server can verify the
// bytes end to end, then streams a header and 1 MiB chunks.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "client/quantctl/connection.h"
#include "client/quantctl/transfer_progress.h"

namespace quantd::client {

struct UploadResult {
  // "sha256:<hex>".
  std::string blob;
  uint64_t size_bytes = 0;
  // The server already had it; no bytes were stored again.
  bool already_present = false;
};

// `kind` is "model" or "dataset". InvalidArgument naming `flag` when the
// path is not a readable regular file; the server's error otherwise.
[[nodiscard]] absl::StatusOr<UploadResult> UploadFile(
    Connection& connection, const std::string& path, const std::string& kind,
    const std::string& flag, TransferProgress& progress);

}  // namespace quantd::client
