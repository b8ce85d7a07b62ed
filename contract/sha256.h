// SHA-256 (FIPS 180-4), self-contained because the engine links neither
// OpenSSL nor common/: the engine hashes its inputs (model files, datasets)
// for manifests and caches.
//
// Thread-safety: a Sha256 object is not; use one per thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace quantd::engine::io {

class Sha256 {
 public:
  using Digest = std::array<uint8_t, 32>;

  Sha256();
  void Update(std::span<const std::byte> data);
  void Update(std::string_view text);
  // Pads and returns the digest; the object must not be updated after.
  Digest Finish();

  static std::string ToHex(const Digest& digest);

 private:
  void Compress(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

// Lower-case hex SHA-256 of a file's contents. Throws FormatError naming
// the file when it cannot be read.
std::string Sha256File(const std::filesystem::path& path);

}  // namespace quantd::engine::io
