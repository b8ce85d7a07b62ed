// SHA-256 (OpenSSL's EVP underneath): the one hash of quantd, quantd-engine
// and quantctl. Blobs are named by it, manifests record it, caches key on it.
//
// Thread-safety: a Sha256 object is not thread-safe; the free functions are.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace quantd::contract {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view data);
  void Update(std::span<const std::byte> data);
  // 64 lowercase hex digits; the hasher must not be used afterwards.
  std::string FinishHex();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

std::string Sha256Hex(std::string_view data);

// The hex digest of a file's contents, read in chunks (a model of many
// gigabytes is never resident). Throws FormatError naming the file when it
// cannot be opened or read.
std::string Sha256FileHex(const std::filesystem::path& path);

}  // namespace quantd::contract
