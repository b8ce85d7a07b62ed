// Downloads one blob to a file, resumably and checked end to end: bytes go
// to "<path>.part", a later run continues from that file's size, every
// chunk's offset, total size and blob reference must agree, and the file is
// renamed into place only after its sha256 matches the blob.
//
// The chunk stream is injected (ChunkStreamOpener) so the resume and
// integrity logic is tested with fakes; the real one wraps
// JobService.DownloadArtifact.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "quantd/v1/jobs.pb.h"

namespace quantd::client {

// One open DownloadArtifact stream. Destroying it early cancels the call.
class ChunkStream {
 public:
  virtual ~ChunkStream() = default;
  virtual bool Read(quantd::v1::DownloadArtifactChunk* chunk) = 0;
  virtual absl::Status Finish() = 0;
};

using ChunkStreamOpener =
    std::function<std::unique_ptr<ChunkStream>(uint64_t offset)>;

struct DownloadTarget {
  // Final file; "<path>.part" holds the bytes until they are verified.
  std::string path;
  // "sha256:<hex>" when known in advance (ListArtifacts); else taken from
  // the first chunk.
  std::string expected_blob;
  // 0 when unknown.
  uint64_t expected_size_bytes = 0;
};

struct DownloadOptions {
  // Broken streams in a row, each resumed from the bytes on disk.
  int max_retries = 5;
  absl::Duration backoff = absl::Milliseconds(500);
  std::function<void(absl::Duration)> sleep = absl::SleepFor;
  // (bytes on disk, total bytes or 0) after every chunk.
  std::function<void(uint64_t, uint64_t)> on_progress;
};

enum class DownloadOutcome {
  kDownloaded,
  // Continued from an existing .part file.
  kResumed,
  // `path` already held the expected blob; nothing was fetched.
  kAlreadyPresent,
};

// DATA_LOSS when the bytes do not hash to the blob (the .part file is
// removed so the next run starts over) or the server's chunks disagree with
// each other; the stream's error when it keeps breaking; INTERNAL for local
// file errors.
[[nodiscard]] absl::StatusOr<DownloadOutcome> DownloadResumable(
    const ChunkStreamOpener& open, const DownloadTarget& target,
    const DownloadOptions& options);

}  // namespace quantd::client
