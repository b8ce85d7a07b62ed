// SHA-256 of byte streams and files, and the "sha256:<hex>" blob references
// that name content-addressed blobs everywhere in quantd.
//
// Thread-safety: a Sha256 object is not thread-safe; the free functions are.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace quantd {

// Incremental hasher (OpenSSL EVP underneath).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view data);
  // 64 lowercase hex digits; the hasher must not be used afterwards.
  std::string FinishHex();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string Sha256Hex(std::string_view data);
[[nodiscard]] absl::StatusOr<std::string> Sha256FileHex(
    const std::string& path);

// "sha256:" + hex.
std::string BlobRef(absl::string_view hex);
// Validates "sha256:<64 lowercase hex>" and returns the hex part;
// InvalidArgument naming `field` otherwise.
[[nodiscard]] absl::StatusOr<std::string> ParseBlobRef(absl::string_view ref,
                                                       absl::string_view field);

}  // namespace quantd
