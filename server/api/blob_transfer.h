// Streaming blob transfers over gRPC: chunked downloads by offset (each
// chunk carries the blob's size and sha256 so a resumed download can be
// verified end to end), and uploads that become visible only once their
// bytes match the declared size and hash (JobService.UploadBlob and
// WorkerGateway.UploadArtifact). An upload of a blob already stored still
// sends and hashes every byte (nothing is written): knowing a hash and a
// size is not enough to claim a blob.
//
// Ownership: gRPC owns each reactor; it deletes itself in OnDone().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/sha256.h"
#include "grpcpp/support/server_callback.h"
#include "quantd/v1/jobs.pb.h"
#include "quantd/v1/worker.pb.h"
#include "server/api/call_guard.h"
#include "server/api/handler_pool.h"
#include "server/api/parsed_request.h"
#include "server/artifacts/blob_store.h"
#include "server/scheduler/scheduler.h"
#include "server/tenancy/tenant_storage.h"
#include "spdlog/logger.h"

namespace quantd::api {

struct TransferOptions {
  // Largest blob accepted by an upload. Default 64 GiB.
  uint64_t max_upload_bytes = 64ull << 30;
  // Download chunks are at most this big (the request's preferred size is
  // capped to it). Default 1 MiB.
  uint32_t max_chunk_bytes = 1u << 20;
};

// The receiving side of one upload: the declared size and hash, the bytes
// so far, and the commit.
class UploadSession {
 public:
  UploadSession(artifacts::BlobStore* blobs, uint64_t max_bytes)
      : blobs_(blobs), max_bytes_(max_bytes) {}

  // `ref` is "sha256:<hex>"; `field` prefixes errors (e.g. "header").
  [[nodiscard]] absl::Status Begin(const std::string& ref, uint64_t size_bytes,
                                   const std::string& field);
  [[nodiscard]] absl::Status Append(const std::string& data);
  // Verifies and publishes the blob; true when it was already stored.
  [[nodiscard]] absl::StatusOr<bool> Commit();
  bool started() const { return started_; }
  const std::string& hex() const { return hex_; }
  uint64_t size_bytes() const { return size_bytes_; }

 private:
  artifacts::BlobStore* const blobs_;
  const uint64_t max_bytes_;
  bool started_ = false;
  // Begin()'s `field`: Append() and Commit() errors name its size_bytes.
  std::string field_;
  std::string hex_;
  uint64_t size_bytes_ = 0;
  uint64_t received_ = 0;
  // Null when the blob is already present: the bytes are hashed by
  // `verify_` and dropped.
  std::unique_ptr<artifacts::BlobWriter> writer_;
  std::unique_ptr<Sha256> verify_;
};

// What an upload reactor borrows to admit, limit and audit its call.
struct UploadGuard {
  const CallGuard* guard = nullptr;
  tenancy::TenantStorage* storage = nullptr;
  // Where each message's work (quota checks, writes, the commit) runs.
  HandlerPool* pool = nullptr;
};

// What a download streams, resolved from its request.
struct DownloadPlan {
  std::string hex;
  uint64_t offset = 0;
  uint64_t total_size = 0;
  uint32_t chunk_bytes = 0;
};

// The request names what to download: `blob`, or `job_id` and `name`
// (INVALID_ARGUMENT naming the missing field otherwise).
[[nodiscard]] absl::Status CheckDownloadRequest(
    const quantd::v1::DownloadArtifactRequest& request);

// Resolves a DownloadArtifactRequest to (hex, size, offset, chunk size):
// store and blob reads, so it runs on a pool thread.
[[nodiscard]] absl::StatusOr<DownloadPlan> PlanDownload(
    scheduler::Scheduler* scheduler, artifacts::BlobStore* blobs,
    const scheduler::Caller& caller,
    const quantd::v1::DownloadArtifactRequest& request,
    const TransferOptions& options);

// Streams a blob. The plan (permission checks, store reads) and every
// chunk's read run on `pool`, never on a gRPC callback thread; a failed
// plan finishes the call with its status.
class DownloadReactor
    : public grpc::ServerWriteReactor<quantd::v1::DownloadArtifactChunk> {
 public:
  DownloadReactor(grpc::CallbackServerContext* context, spdlog::logger* log,
                  HandlerPool* pool, artifacts::BlobStore* blobs,
                  std::function<absl::StatusOr<DownloadPlan>()> plan);
  void OnWriteDone(bool ok) override;
  void OnDone() override { delete this; }

 private:
  void WriteNext();
  void Fail(const absl::Status& status);

  grpc::CallbackServerContext* const context_;
  spdlog::logger* const log_;
  HandlerPool* const pool_;
  artifacts::BlobStore* const blobs_;
  DownloadPlan plan_;
  bool sent_any_ = false;
  quantd::v1::DownloadArtifactChunk chunk_;
};

// Client-stream reactors read ParsedRequest (parsed_request.h): a message
// that does not parse ends the call with INVALID_ARGUMENT.
class UploadBlobReactor : public grpc::ServerReadReactor<
                              ParsedRequest<quantd::v1::UploadBlobChunk>> {
 public:
  // Admits the call first; a refused call ends before reading anything.
  UploadBlobReactor(grpc::CallbackServerContext* context, spdlog::logger* log,
                    scheduler::Scheduler* scheduler,
                    artifacts::BlobStore* blobs, TransferOptions options,
                    quantd::v1::UploadBlobResponse* response,
                    UploadGuard guard);
  void OnReadDone(bool ok) override;
  void OnDone() override { delete this; }

 private:
  void Step(bool ok);
  absl::Status Handle();
  absl::Status Begin(const quantd::v1::UploadBlobHeader& header);
  absl::Status Complete();
  void End(const absl::Status& status);

  grpc::CallbackServerContext* const context_;
  spdlog::logger* const log_;
  scheduler::Scheduler* const scheduler_;
  UploadSession session_;
  quantd::v1::UploadBlobResponse* const response_;
  const UploadGuard guard_;
  std::optional<CallIdentity> who_;
  ParsedRequest<quantd::v1::UploadBlobChunk> chunk_;
  std::string kind_;
  std::string blob_;
};

class UploadArtifactReactor
    : public grpc::ServerReadReactor<
          ParsedRequest<quantd::v1::UploadArtifactChunk>> {
 public:
  // Admits the call first; a refused call ends before reading anything.
  UploadArtifactReactor(grpc::CallbackServerContext* context,
                        spdlog::logger* log, scheduler::Scheduler* scheduler,
                        artifacts::BlobStore* blobs, TransferOptions options,
                        quantd::v1::UploadArtifactResponse* response,
                        const CallGuard* guard, HandlerPool* pool);
  void OnReadDone(bool ok) override;
  void OnDone() override { delete this; }

 private:
  void Step(bool ok);
  void End(const absl::Status& status);
  absl::Status Handle();
  absl::Status Complete();

  grpc::CallbackServerContext* const context_;
  spdlog::logger* const log_;
  scheduler::Scheduler* const scheduler_;
  UploadSession session_;
  quantd::v1::UploadArtifactResponse* const response_;
  const CallGuard* const guard_;
  HandlerPool* const pool_;
  std::optional<CallIdentity> who_;
  ParsedRequest<quantd::v1::UploadArtifactChunk> chunk_;
  quantd::v1::UploadArtifactHeader header_;
};

}  // namespace quantd::api
