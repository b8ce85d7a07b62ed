#include "client/quantctl/resumable_download.h"

#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "client/quantctl/event_watcher.h"
#include "common/sha256.h"
#include "common/status.h"

namespace quantd::client {
namespace {

namespace fs = std::filesystem;

// What the chunks have told so far; the first chunk fixes size and blob.
struct Transfer {
  uint64_t offset = 0;
  uint64_t total_bytes = 0;
  std::string blob;
};

absl::Status CheckChunk(const quantd::v1::DownloadArtifactChunk& chunk,
                        Transfer* transfer) {
  if (chunk.offset() != transfer->offset) {
    return absl::DataLossError(absl::StrCat("server sent bytes at offset ",
                                            chunk.offset(), ", expected ",
                                            transfer->offset));
  }
  if (transfer->total_bytes == 0)
    transfer->total_bytes = chunk.total_size_bytes();
  if (chunk.total_size_bytes() != transfer->total_bytes) {
    return absl::DataLossError(absl::StrCat(
        "blob size changed during the download: ", transfer->total_bytes,
        " then ", chunk.total_size_bytes(), " bytes"));
  }
  if (transfer->blob.empty()) transfer->blob = chunk.blob();
  if (chunk.blob() != transfer->blob) {
    return absl::DataLossError(absl::StrCat("expected blob ", transfer->blob,
                                            ", server sent ", chunk.blob()));
  }
  if (transfer->offset + chunk.data().size() > transfer->total_bytes) {
    return absl::DataLossError(absl::StrCat("server sent bytes past the end (",
                                            transfer->total_bytes, " bytes)"));
  }
  return absl::OkStatus();
}

// Appends the stream's chunks to `part`. The outer status is fatal (local
// I/O, inconsistent chunks); the inner one is how the stream ended.
absl::StatusOr<absl::Status> ReceiveChunks(ChunkStream& stream,
                                           const std::string& part,
                                           Transfer* transfer,
                                           const DownloadOptions& options) {
  std::ofstream file(part, std::ios::binary | std::ios::app);
  if (!file) return absl::InternalError(absl::StrCat("cannot open ", part));
  quantd::v1::DownloadArtifactChunk chunk;
  while (stream.Read(&chunk)) {
    QUANTD_RETURN_IF_ERROR(CheckChunk(chunk, transfer));
    file.write(chunk.data().data(),
               static_cast<std::streamsize>(chunk.data().size()));
    file.flush();
    if (!file) return absl::InternalError(absl::StrCat("cannot write ", part));
    transfer->offset += chunk.data().size();
    if (options.on_progress) {
      options.on_progress(transfer->offset, transfer->total_bytes);
    }
  }
  return stream.Finish();
}

bool AlreadyPresent(const DownloadTarget& target) {
  std::error_code error;
  if (target.expected_blob.empty() ||
      !fs::is_regular_file(target.path, error)) {
    return false;
  }
  auto hex = Sha256FileHex(target.path);
  return hex.ok() && BlobRef(*hex) == target.expected_blob;
}

// Bytes already in `part` that can be kept, truncating it when it cannot be
// a prefix of the blob.
absl::StatusOr<uint64_t> ResumeOffset(const std::string& part,
                                      uint64_t expected_size) {
  std::error_code error;
  if (!fs::exists(part, error)) return 0;
  const uint64_t size = fs::file_size(part, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot stat ", part, ": ", error.message()));
  }
  if (expected_size != 0 && size > expected_size) {
    fs::resize_file(part, 0, error);
    if (error)
      return absl::InternalError(absl::StrCat("cannot truncate ", part));
    return 0;
  }
  return size;
}

// Checks the finished .part against the blob and renames it into place.
absl::Status VerifyAndInstall(const std::string& part, const std::string& path,
                              const std::string& blob) {
  QUANTD_ASSIGN_OR_RETURN(std::string hex, Sha256FileHex(part));
  std::error_code error;
  if (!blob.empty() && BlobRef(hex) != blob) {
    fs::remove(part, error);
    return absl::DataLossError(absl::StrCat(
        path, ": downloaded bytes hash to ", BlobRef(hex), ", expected ", blob,
        "; the partial file was removed, run fetch again"));
  }
  fs::rename(part, path, error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot rename ", part, " to ",
                                            path, ": ", error.message()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DownloadOutcome> DownloadResumable(
    const ChunkStreamOpener& open, const DownloadTarget& target,
    const DownloadOptions& options) {
  if (AlreadyPresent(target)) return DownloadOutcome::kAlreadyPresent;
  const std::string part = target.path + ".part";
  Transfer transfer{0, target.expected_size_bytes, target.expected_blob};
  QUANTD_ASSIGN_OR_RETURN(transfer.offset,
                          ResumeOffset(part, target.expected_size_bytes));
  const bool resumed = transfer.offset > 0;
  bool restarted = false;
  int failures = 0;
  while (transfer.total_bytes == 0 || transfer.offset < transfer.total_bytes) {
    std::unique_ptr<ChunkStream> stream = open(transfer.offset);
    const uint64_t before = transfer.offset;
    QUANTD_ASSIGN_OR_RETURN(absl::Status ended,
                            ReceiveChunks(*stream, part, &transfer, options));
    if (ended.ok() && transfer.offset == transfer.total_bytes) break;
    if (ended.ok()) {
      ended = absl::UnavailableError(absl::StrCat("download ended at byte ",
                                                  transfer.offset, " of ",
                                                  transfer.total_bytes));
    }
    if (ended.code() == absl::StatusCode::kOutOfRange && !restarted &&
        transfer.offset > 0) {
      // The .part file is longer than the blob: start over once.
      restarted = true;
      std::error_code error;
      fs::resize_file(part, 0, error);
      transfer.offset = 0;
      continue;
    }
    if (!IsStreamBreak(ended)) return ended;
    if (transfer.offset > before) failures = 0;
    if (++failures > options.max_retries) return ended;
    options.sleep(options.backoff);
  }
  QUANTD_RETURN_IF_ERROR(VerifyAndInstall(part, target.path, transfer.blob));
  return resumed ? DownloadOutcome::kResumed : DownloadOutcome::kDownloaded;
}

}  // namespace quantd::client
