// The "sha256:<hex>" blob references that name content-addressed blobs
// everywhere in quantd, and the hash itself for the abseil side: the one
// SHA-256 is the contract's (contract/sha256.h).
//
// Thread-safety: a Sha256 object is not thread-safe; the free functions are.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "contract/sha256.h"

namespace quantd {

using contract::Sha256;
using contract::Sha256Hex;

// NotFound when the file cannot be opened, DataLoss when a read fails.
[[nodiscard]] absl::StatusOr<std::string> Sha256FileHex(
    const std::string& path);

// "sha256:" + hex.
std::string BlobRef(absl::string_view hex);
// Validates "sha256:<64 lowercase hex>" and returns the hex part;
// InvalidArgument naming `field` otherwise.
[[nodiscard]] absl::StatusOr<std::string> ParseBlobRef(absl::string_view ref,
                                                       absl::string_view field);

}  // namespace quantd
