#include "worker/agent/grpc_job_reporter.h"

#include <filesystem>
#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/status.h"

namespace quantd::agent {
namespace {

// Calls `attempt` until it succeeds, fails for good, or the retries or
// the interrupt run out.
template <typename Result, typename Attempt>
Result Retry(const RetryPolicy& policy, absl::Notification* interrupt,
             const Attempt& attempt) {
  Backoff backoff(policy);
  for (int i = 1;; ++i) {
    Result result = attempt();
    if (internal::AsStatus(result).ok() ||
        !IsRetryable(internal::AsStatus(result)) || i >= policy.max_attempts ||
        !backoff.Wait(interrupt)) {
      return result;
    }
  }
}

absl::Status CheckFile(const std::string& path,
                       const quantd::v1::Artifact& artifact) {
  std::error_code error;
  const uintmax_t size = std::filesystem::file_size(path, error);
  if (error) {
    return absl::DataLossError(absl::StrCat(path, ": ", error.message()));
  }
  if (size != artifact.size_bytes()) {
    return absl::DataLossError(absl::StrCat(path, ": ", size,
                                            " bytes, the engine reported ",
                                            artifact.size_bytes()));
  }
  QUANTD_ASSIGN_OR_RETURN(const std::string hex, Sha256FileHex(path));
  if (BlobRef(hex) != artifact.blob()) {
    return absl::DataLossError(absl::StrCat(
        path, ": sha256 is ", hex, ", the engine reported ", artifact.blob()));
  }
  return absl::OkStatus();
}

}  // namespace

GrpcJobReporter::GrpcJobReporter(GatewayClient& client, std::string job_id,
                                 uint64_t fencing_token,
                                 ReporterOptions options,
                                 std::shared_ptr<spdlog::logger> log)
    : client_(client),
      job_id_(std::move(job_id)),
      fencing_token_(fencing_token),
      options_(std::move(options)),
      log_(std::move(log)) {}

absl::Status GrpcJobReporter::ReportEvents(
    const std::vector<quantd::v1::JobEvent>& events) {
  return Retry<absl::Status>(options_.transfer_retry, &interrupted_,
                             [&] { return ReportOnce(events); });
}

absl::Status GrpcJobReporter::ReportOnce(
    const std::vector<quantd::v1::JobEvent>& events) {
  auto context = client_.NewContext();
  CallCanceller::Scope scope(transfers_, *context);
  quantd::v1::ReportEventsResponse response;
  auto writer = client_.gateway().ReportEvents(context.get(), &response);
  quantd::v1::ReportEventsRequest request;
  request.set_job_id(job_id_);
  request.set_fencing_token(fencing_token_);
  *request.mutable_events() = {events.begin(), events.end()};
  if (writer->Write(request)) writer->WritesDone();
  return FromGrpc(writer->Finish());
}

absl::StatusOr<quantd::v1::Artifact> GrpcJobReporter::UploadArtifact(
    const std::string& path, const quantd::v1::Artifact& artifact) {
  using Result = absl::StatusOr<quantd::v1::Artifact>;
  return Retry<Result>(options_.transfer_retry, &interrupted_, [&]() -> Result {
    // Checked before every attempt: a file that changed since the engine
    // announced it must not be sent under the old hash (DATA_LOSS, final).
    QUANTD_RETURN_IF_ERROR(CheckFile(path, artifact));
    return UploadOnce(path, artifact);
  });
}

absl::StatusOr<quantd::v1::Artifact> GrpcJobReporter::UploadOnce(
    const std::string& path, const quantd::v1::Artifact& artifact) {
  const double seconds = static_cast<double>(artifact.size_bytes()) /
                         options_.min_upload_bytes_per_second;
  auto context = client_.NewContext(client_.options().rpc_timeout +
                                    absl::Seconds(seconds));
  CallCanceller::Scope scope(transfers_, *context);
  quantd::v1::UploadArtifactResponse response;
  auto writer = client_.gateway().UploadArtifact(context.get(), &response);
  const absl::Status sent = SendFile(path, artifact, *writer);
  const absl::Status finished = FromGrpc(writer->Finish());
  // The server's verdict comes first: a dropped stream also fails the
  // writes, but only Finish() says why.
  if (!finished.ok()) return finished;
  if (!sent.ok()) return sent;
  // The checkpoint uploader logs its own line, with the block.
  log_->log(artifact.kind() == "checkpoint" ? spdlog::level::debug
                                            : spdlog::level::info,
            "job={} artifact={} uploaded bytes={} already_present={}", job_id_,
            artifact.name(), artifact.size_bytes(), response.already_present());
  return response.artifact();
}

absl::Status GrpcJobReporter::SendFile(
    const std::string& path, const quantd::v1::Artifact& artifact,
    grpc::ClientWriterInterface<quantd::v1::UploadArtifactChunk>& writer) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::InternalError(absl::StrCat("cannot open ", path));
  quantd::v1::UploadArtifactChunk chunk;
  quantd::v1::UploadArtifactHeader* header = chunk.mutable_header();
  header->set_job_id(job_id_);
  header->set_fencing_token(fencing_token_);
  *header->mutable_artifact() = artifact;
  if (!writer.Write(chunk)) return absl::UnavailableError("stream closed");
  std::string buffer(options_.chunk_bytes, '\0');
  while (file) {
    file.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const std::streamsize got = file.gcount();
    if (got <= 0) break;
    chunk.set_data(buffer.data(), static_cast<size_t>(got));
    if (!writer.Write(chunk)) return absl::UnavailableError("stream closed");
  }
  if (file.bad()) return absl::InternalError(absl::StrCat("reading ", path));
  writer.WritesDone();
  return absl::OkStatus();
}

absl::StatusOr<quantd::v1::Job> GrpcJobReporter::CompleteJob(
    quantd::v1::CompleteJobRequest request) {
  request.set_job_id(job_id_);
  request.set_fencing_token(fencing_token_);
  return Retry<absl::StatusOr<quantd::v1::Job>>(
      options_.complete_retry, nullptr,
      [&]() -> absl::StatusOr<quantd::v1::Job> {
        auto context = client_.NewContext();
        quantd::v1::CompleteJobResponse response;
        QUANTD_RETURN_IF_ERROR(FromGrpc(
            client_.gateway().CompleteJob(context.get(), request, &response)));
        return response.job();
      });
}

void GrpcJobReporter::InterruptTransfers() {
  if (!interrupted_.HasBeenNotified()) interrupted_.Notify();
  transfers_.CancelAll();
}

}  // namespace quantd::agent
