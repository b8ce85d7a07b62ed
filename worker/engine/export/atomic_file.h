// AtomicFile: writes one file so that no reader ever sees it half-written:
// the bytes go to a hidden temporary file in the destination directory
// (".<name>.<pid>.tmp"), are hashed (SHA-256) as they are written, synced,
// and renamed over the destination on Commit; a writer destroyed before
// Commit (an exception, a cancelled job) removes its temporary file and
// leaves any previous destination untouched. The directory is synced after
// the rename so the new name survives a crash.
//
// Also the small POSIX file helpers the exporter needs (libtorch exports
// its own std::filesystem symbols, and its remove_all crashes in binaries
// that link both, so removal goes through unlink/rmdir).
//
// Ownership: an AtomicFile owns its descriptor and temporary file. Movable,
// not copyable, not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "contract/sha256.h"

namespace quantd::engine::exporting {

// A finished file: where it is, its SHA-256 (lower-case hex) and size.
struct WrittenFile {
  std::filesystem::path path;
  std::string sha256;
  uint64_t size_bytes = 0;
};

class AtomicFile {
 public:
  // Creates the destination's directory if needed and opens the temporary
  // file. Throws ExportError naming `path`.
  explicit AtomicFile(std::filesystem::path path);
  ~AtomicFile();
  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Appends bytes. Throws ExportError (e.g. disk full).
  void Write(std::span<const std::byte> bytes);
  void Write(std::string_view text);
  uint64_t size_bytes() const { return size_bytes_; }

  // fsync, close, rename into place, fsync the directory. After Commit the
  // object is spent. Throws ExportError; the temporary file is removed then.
  WrittenFile Commit();

  const std::filesystem::path& path() const { return path_; }
  const std::filesystem::path& temp_path() const { return temp_path_; }

 private:
  [[noreturn]] void Fail(const char* what);
  void Abandon() noexcept;

  std::filesystem::path path_;
  std::filesystem::path temp_path_;
  int fd_ = -1;
  contract::Sha256 hash_;
  uint64_t size_bytes_ = 0;
};

// Writes `bytes` to `path` through an AtomicFile.
WrittenFile WriteFileAtomically(const std::filesystem::path& path,
                                std::string_view bytes);

// Copies a file through an AtomicFile. Throws ExportError.
WrittenFile CopyFileAtomically(const std::filesystem::path& from,
                               const std::filesystem::path& to);

// Removes `dir` and the regular files directly inside it (a staging
// directory never holds subdirectories); a missing directory is fine.
// Throws ExportError when something cannot be removed.
void RemoveFlatDirectory(const std::filesystem::path& dir);

}  // namespace quantd::engine::exporting
