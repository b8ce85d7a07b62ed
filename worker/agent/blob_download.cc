#include "worker/agent/blob_download.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/status.h"

namespace quantd::agent {
namespace {

// One blob being written to its ".part" file, across resumed streams.
class PartialDownload {
 public:
  PartialDownload(GatewayClient& client, std::string blob, std::string path)
      : client_(client), blob_(std::move(blob)), path_(std::move(path)) {}

  absl::Status Open() {
    file_.open(path_, std::ios::binary | std::ios::trunc);
    if (!file_)
      return absl::InternalError(absl::StrCat("cannot create ", path_));
    return absl::OkStatus();
  }

  // Streams from the bytes received so far to the end. Each stream may
  // take up to ten unary deadlines; a slower download resumes in the next.
  absl::Status Fetch() {
    auto context = client_.NewContext(client_.options().rpc_timeout * 10);
    quantd::v1::DownloadArtifactRequest request;
    request.set_blob(blob_);
    request.set_offset(received_);
    auto reader = client_.jobs().DownloadArtifact(context.get(), request);
    quantd::v1::DownloadArtifactChunk chunk;
    absl::Status status;
    while (status.ok() && reader->Read(&chunk)) status = Append(chunk);
    if (!status.ok()) context->TryCancel();
    const absl::Status finished = FromGrpc(reader->Finish());
    return status.ok() ? finished : status;
  }

  absl::Status Close() {
    file_.close();
    if (!file_) return absl::InternalError(absl::StrCat("writing ", path_));
    return absl::OkStatus();
  }

  uint64_t received() const { return received_; }

 private:
  absl::Status Append(const quantd::v1::DownloadArtifactChunk& chunk) {
    if (chunk.offset() != received_) {
      return absl::DataLossError(absl::StrCat(
          "chunk at offset ", chunk.offset(), ", expected ", received_));
    }
    if (!chunk.blob().empty() && chunk.blob() != blob_) {
      return absl::DataLossError(absl::StrCat("server sent ", chunk.blob()));
    }
    file_.write(chunk.data().data(),
                static_cast<std::streamsize>(chunk.data().size()));
    if (!file_) return absl::InternalError(absl::StrCat("writing ", path_));
    received_ += chunk.data().size();
    return absl::OkStatus();
  }

  GatewayClient& client_;
  const std::string blob_;
  const std::string path_;
  std::ofstream file_;
  uint64_t received_ = 0;
};

absl::Status VerifyAndRename(const std::string& part_path,
                             const std::string& dest_path,
                             const std::string& blob) {
  QUANTD_ASSIGN_OR_RETURN(const std::string hex, Sha256FileHex(part_path));
  if (BlobRef(hex) != blob) {
    return absl::DataLossError(
        absl::StrCat("downloaded bytes hash to sha256:", hex));
  }
  std::error_code error;
  std::filesystem::rename(part_path, dest_path, error);
  if (error) {
    return absl::InternalError(absl::StrCat("rename: ", error.message()));
  }
  return absl::OkStatus();
}

absl::Status Download(GatewayClient& client, const std::string& blob,
                      const std::string& part_path,
                      const std::string& dest_path, const RetryPolicy& retry,
                      absl::Notification* interrupt) {
  QUANTD_RETURN_IF_ERROR(ParseBlobRef(blob, "blob").status());
  PartialDownload download(client, blob, part_path);
  QUANTD_RETURN_IF_ERROR(download.Open());
  Backoff backoff(retry);
  for (int attempt = 1;; ++attempt) {
    const uint64_t before = download.received();
    const absl::Status status = download.Fetch();
    if (status.ok()) break;
    if (download.received() > before) {
      // Progress was made: count only attempts that got nowhere.
      attempt = 0;
      backoff.Reset();
    }
    if (!IsRetryable(status) || attempt >= retry.max_attempts ||
        !backoff.Wait(interrupt)) {
      return status;
    }
  }
  QUANTD_RETURN_IF_ERROR(download.Close());
  return VerifyAndRename(part_path, dest_path, blob);
}

}  // namespace

absl::Status DownloadBlob(GatewayClient& client, const std::string& blob,
                          const std::string& dest_path,
                          const RetryPolicy& retry,
                          absl::Notification* interrupt) {
  const std::string part_path = dest_path + ".part";
  const absl::Status status =
      Download(client, blob, part_path, dest_path, retry, interrupt);
  if (!status.ok()) std::remove(part_path.c_str());
  return Annotate(status, absl::StrCat("downloading ", blob));
}

}  // namespace quantd::agent
