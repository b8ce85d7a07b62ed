#include "client/quantctl/blob_upload.h"

#include <filesystem>
#include <fstream>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/status.h"
#include "quantd/v1/jobs.pb.h"

namespace quantd::client {
namespace {

constexpr size_t kChunkBytes = 1 << 20;

absl::StatusOr<uint64_t> RegularFileSize(const std::string& path,
                                         const std::string& flag) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    return InvalidFieldError(
        flag, absl::StrCat(path,
                           " is a directory; only single files (e.g. a "
                           ".gguf model or a text file) can be "
                           "uploaded"));
  }
  if (!std::filesystem::is_regular_file(path, error)) {
    return InvalidFieldError(flag, absl::StrCat("no such file: ", path));
  }
  const uint64_t size = std::filesystem::file_size(path, error);
  if (error) {
    return InvalidFieldError(
        flag, absl::StrCat("cannot read ", path, ": ", error.message()));
  }
  return size;
}

// Streams the file's bytes after the header; false when the server closed
// the stream early (its status says why).
absl::StatusOr<bool> SendChunks(
    const std::string& path, uint64_t size,
    grpc::ClientWriterInterface<quantd::v1::UploadBlobChunk>& writer,
    TransferProgress& progress) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::InternalError(absl::StrCat("cannot open ", path));
  std::vector<char> buffer(kChunkBytes);
  uint64_t sent = 0;
  quantd::v1::UploadBlobChunk chunk;
  while (sent < size) {
    file.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto count = static_cast<size_t>(file.gcount());
    if (count == 0) {
      return absl::InternalError(absl::StrCat(path, " shrank while uploading"));
    }
    chunk.set_data(buffer.data(), count);
    if (!writer.Write(chunk)) return false;
    sent += count;
    progress.Update(sent, size);
  }
  return true;
}

}  // namespace

absl::StatusOr<UploadResult> UploadFile(Connection& connection,
                                        const std::string& path,
                                        const std::string& kind,
                                        const std::string& flag,
                                        TransferProgress& progress) {
  QUANTD_ASSIGN_OR_RETURN(uint64_t size, RegularFileSize(path, flag));
  QUANTD_ASSIGN_OR_RETURN(std::string hex, Sha256FileHex(path));
  auto context = connection.NewContext();
  quantd::v1::UploadBlobResponse response;
  auto writer = connection.jobs().UploadBlob(context.get(), &response);
  quantd::v1::UploadBlobChunk header;
  header.mutable_header()->set_blob(BlobRef(hex));
  header.mutable_header()->set_size_bytes(size);
  header.mutable_header()->set_kind(kind);
  header.mutable_header()->set_file_name(
      std::filesystem::path(path).filename().string());
  progress.Update(0, size);
  absl::StatusOr<bool> sent = false;
  if (writer->Write(header)) {
    sent = SendChunks(path, size, *writer, progress);
    if (sent.ok() && *sent) writer->WritesDone();
  }
  if (!sent.ok()) {
    context->TryCancel();
    writer->Finish().ok();
    return sent.status();
  }
  const grpc::Status status = writer->Finish();
  if (!status.ok()) return connection.FromGrpc(status);
  progress.Finish(response.already_present() ? "already present" : "done");
  return UploadResult{response.blob(), response.size_bytes(),
                      response.already_present()};
}

}  // namespace quantd::client
