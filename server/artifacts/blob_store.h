// BlobStore: content-addressed blobs (models, datasets, artifacts) on the
// local disk under <root>/sha256/<2 hex>/<64 hex>. A blob is written to a
// temporary file, checked against its declared size and sha256, fsynced and
// renamed into place, so no reader ever sees half a blob and a failed
// upload leaves nothing behind. Reads are by offset, for resumable chunked
// downloads.
//
// Thread-safety: safe from any thread. A BlobWriter is owned by one caller
// and is not thread-safe itself.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace quantd::artifacts {

class BlobWriter;

struct GcReport {
  uint64_t removed_blobs = 0;
  uint64_t removed_bytes = 0;
  uint64_t removed_temp_files = 0;
};

class BlobStore {
 public:
  // Creates <root> and its layout when missing.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<BlobStore>> Open(
      const std::string& root);

  // Starts writing a blob that must hash to `hex` (64 lowercase hex digits)
  // and be exactly `size_bytes` long.
  [[nodiscard]] absl::StatusOr<std::unique_ptr<BlobWriter>> NewWriter(
      const std::string& hex, uint64_t size_bytes);

  bool Contains(const std::string& hex) const;
  // NotFound for an absent blob.
  [[nodiscard]] absl::StatusOr<uint64_t> SizeOf(const std::string& hex) const;
  // Up to `max_bytes` from `offset`; empty at the end. OutOfRange when
  // offset is past the end.
  [[nodiscard]] absl::StatusOr<std::string> Read(const std::string& hex,
                                                 uint64_t offset,
                                                 uint64_t max_bytes) const;
  // The file holding a blob (it may not exist).
  std::string PathOf(const std::string& hex) const;
  [[nodiscard]] absl::Status Remove(const std::string& hex);
  // Bytes of all stored blobs.
  [[nodiscard]] absl::StatusOr<uint64_t> TotalBytes() const;

  // Removes every blob for which `keep` returns false and whose file is
  // older than `retention_seconds` at `now_ms`, and temporary files older
  // than that too (left by a crash mid-upload).
  [[nodiscard]] absl::StatusOr<GcReport> CollectGarbage(
      const std::function<bool(const std::string& hex)>& keep, int64_t now_ms,
      int64_t retention_seconds);

 private:
  explicit BlobStore(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

// One blob being written. Destroying it without a successful Commit()
// deletes the temporary file.
class BlobWriter {
 public:
  ~BlobWriter();
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;

  // InvalidArgument when the data would exceed the declared size.
  [[nodiscard]] absl::Status Append(absl::string_view data);
  // Verifies size (InvalidArgument) and hash (DataLoss), then makes the blob
  // visible. Returns true when the blob was already present (the new copy
  // is dropped).
  [[nodiscard]] absl::StatusOr<bool> Commit();
  uint64_t bytes_written() const { return written_; }

 private:
  friend class BlobStore;
  BlobWriter(std::string hex, uint64_t size_bytes, std::string temp_path,
             std::string final_path, int fd);
  void Discard();

  struct Hasher;
  std::string hex_;
  uint64_t size_bytes_;
  std::string temp_path_;
  std::string final_path_;
  int fd_;
  uint64_t written_ = 0;
  std::unique_ptr<Hasher> hasher_;
};

}  // namespace quantd::artifacts
