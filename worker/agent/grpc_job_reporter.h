// GrpcJobReporter: the JobReporter that talks to quantd's WorkerGateway.
// Every call carries the lease's fencing token. Transient failures
// (IsRetryable) are retried with backoff; an upload that fails midway is
// sent again from the start, after the file was re-checked against its
// hash.
//
// Thread-safety: safe to call from any thread. Does not own the client,
// which must outlive it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "spdlog/logger.h"
#include "worker/agent/call_canceller.h"
#include "worker/agent/gateway_client.h"
#include "worker/agent/job_reporter.h"
#include "worker/agent/retry.h"

namespace quantd::agent {

struct ReporterOptions {
  // ReportEvents and UploadArtifact.
  RetryPolicy transfer_retry;
  // CompleteJob: losing it would leave the job to expire and rerun, so it
  // gets more attempts.
  RetryPolicy complete_retry{.max_attempts = 10};
  // Bytes per upload chunk. Default 1 MiB.
  size_t chunk_bytes = 1 << 20;
  // An upload's deadline is the unary deadline plus its size at this rate.
  double min_upload_bytes_per_second = 1 << 20;
};

class GrpcJobReporter final : public JobReporter {
 public:
  GrpcJobReporter(GatewayClient& client, std::string job_id,
                  uint64_t fencing_token, ReporterOptions options,
                  std::shared_ptr<spdlog::logger> log);

  absl::Status ReportEvents(
      const std::vector<quantd::v1::JobEvent>& events) override;
  absl::StatusOr<quantd::v1::Artifact> UploadArtifact(
      const std::string& path, const quantd::v1::Artifact& artifact) override;
  absl::StatusOr<quantd::v1::Job> CompleteJob(
      quantd::v1::CompleteJobRequest request) override;
  void InterruptTransfers() override;

 private:
  absl::Status ReportOnce(const std::vector<quantd::v1::JobEvent>& events);
  absl::StatusOr<quantd::v1::Artifact> UploadOnce(
      const std::string& path, const quantd::v1::Artifact& artifact);
  absl::Status SendFile(
      const std::string& path, const quantd::v1::Artifact& artifact,
      grpc::ClientWriterInterface<quantd::v1::UploadArtifactChunk>& writer);

  GatewayClient& client_;
  const std::string job_id_;
  const uint64_t fencing_token_;
  const ReporterOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  CallCanceller transfers_;
  absl::Notification interrupted_;
};

}  // namespace quantd::agent
