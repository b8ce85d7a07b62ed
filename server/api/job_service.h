// quantd.v1.JobService on gRPC's callback API. Each unary handler admits
// the call on the callback thread (CallGuard: token, role, request limits),
// then runs one Scheduler call as the caller's tenant on a HandlerPool
// (submits on their own, as they read the model) and maps the result with
// Reply(); streams are reactors that hold no thread while they wait. A
// request that does not parse is INVALID_ARGUMENT (parsed_request.h).
//
// Ownership: borrows the scheduler, blob store, hub, guard, tenant storage
// and pools, which must outlive the server. Thread-safety: safe from any
// thread.
#pragma once

#include <memory>

#include "quantd/v1/jobs.grpc.pb.h"
#include "server/api/blob_transfer.h"
#include "server/api/call_guard.h"
#include "server/api/event_hub.h"
#include "server/api/handler_pool.h"
#include "server/api/parsed_request.h"
#include "server/api/watch_reactor.h"
#include "server/artifacts/blob_store.h"
#include "server/scheduler/scheduler.h"
#include "server/tenancy/tenant_storage.h"
#include "spdlog/logger.h"

namespace quantd::api {

// What JobServiceImpl borrows besides the scheduler and blob store.
struct JobServiceParts {
  EventHub* hub = nullptr;
  const CallGuard* guard = nullptr;
  // Upload accounting (UploadBlob's quota).
  tenancy::TenantStorage* storage = nullptr;
  // SubmitJob's pool, and the other unary calls'.
  HandlerPool* submit_pool = nullptr;
  HandlerPool* store_pool = nullptr;
};

class JobServiceImpl final : public quantd::v1::JobService::CallbackService {
 public:
  JobServiceImpl(scheduler::Scheduler* scheduler, artifacts::BlobStore* blobs,
                 JobServiceParts parts, TransferOptions transfer,
                 WatchOptions watch, std::shared_ptr<spdlog::logger> log);

  grpc::ServerUnaryReactor* SubmitJob(
      grpc::CallbackServerContext* context,
      const quantd::v1::SubmitJobRequest* request,
      quantd::v1::Job* response) override;
  grpc::ServerUnaryReactor* GetJob(grpc::CallbackServerContext* context,
                                   const quantd::v1::GetJobRequest* request,
                                   quantd::v1::Job* response) override;
  grpc::ServerUnaryReactor* ListJobs(
      grpc::CallbackServerContext* context,
      const quantd::v1::ListJobsRequest* request,
      quantd::v1::ListJobsResponse* response) override;
  grpc::ServerUnaryReactor* CancelJob(
      grpc::CallbackServerContext* context,
      const quantd::v1::CancelJobRequest* request,
      quantd::v1::Job* response) override;
  grpc::ServerWriteReactor<quantd::v1::JobEvent>* WatchJob(
      grpc::CallbackServerContext* context,
      const quantd::v1::WatchJobRequest* request) override;
  grpc::ServerUnaryReactor* ListArtifacts(
      grpc::CallbackServerContext* context,
      const quantd::v1::ListArtifactsRequest* request,
      quantd::v1::ListArtifactsResponse* response) override;
  grpc::ServerWriteReactor<quantd::v1::DownloadArtifactChunk>* DownloadArtifact(
      grpc::CallbackServerContext* context,
      const quantd::v1::DownloadArtifactRequest* request) override;
  grpc::ServerUnaryReactor* ListWorkers(
      grpc::CallbackServerContext* context,
      const quantd::v1::ListWorkersRequest* request,
      quantd::v1::ListWorkersResponse* response) override;
  // UploadBlob, whose reactor reads ParsedRequest (a different type from
  // the generated UploadBlob's).
  grpc::ServerReadReactor<ParsedRequest<quantd::v1::UploadBlobChunk>>*
  UploadBlobParsed(grpc::CallbackServerContext* context,
                   quantd::v1::UploadBlobResponse* response);

 private:
  // The caller's right to this download (by job or by blob); audited.
  absl::Status CheckDownload(
      const grpc::CallbackServerContext* context, const CallIdentity& who,
      const quantd::v1::DownloadArtifactRequest& request);

  scheduler::Scheduler* const scheduler_;
  artifacts::BlobStore* const blobs_;
  const JobServiceParts parts_;
  const TransferOptions transfer_;
  const WatchOptions watch_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace quantd::api
