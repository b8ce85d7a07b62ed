// MappedFile: a read-only memory map of a whole file, released on
// destruction. Model readers parse headers from it and decode tensors
// straight out of it, so a tensor's bytes are only paged in when used.
//
// Ownership: the object owns the mapping; spans from data() are valid for
// its lifetime. Movable, not copyable. Thread-safety: immutable after
// construction, safe to read from any number of threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>

namespace quantd::contract {

class MappedFile {
 public:
  // Maps `path` read-only. Throws FormatError naming the file when it
  // cannot be opened, is not a regular file, or cannot be mapped. An empty
  // file maps to an empty span.
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  uint64_t size_bytes() const { return size_bytes_; }
  std::span<const std::byte> data() const {
    return {static_cast<const std::byte*>(address_),
            static_cast<size_t>(size_bytes_)};
  }

  // Drops the pages wholly inside `range` (a part of data()) from this
  // process's resident set once their bytes have been copied out: the
  // mapping stays valid (a later read pages them in again from the file),
  // but reading a model tensor by tensor no longer leaves the whole file
  // resident. A range outside the mapping is ignored.
  void Evict(std::span<const std::byte> range) const noexcept;

 private:
  void Release() noexcept;

  std::filesystem::path path_;
  void* address_ = nullptr;
  uint64_t size_bytes_ = 0;
};

}  // namespace quantd::contract
