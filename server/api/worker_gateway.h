// quantd.v1.WorkerGateway on gRPC's callback API: registration, long-poll
// leases (parked in the LeaseDispatcher, no thread each), heartbeats, event
// reports, artifact uploads and completion. Every call is admitted by the
// CallGuard (a worker token, and a verified client certificate under mutual
// TLS); every call about a job carries its fencing token, which the
// Scheduler checks. The unary calls' store transactions run on a
// HandlerPool. A request that does not parse is INVALID_ARGUMENT
// (parsed_request.h).
//
// Ownership: borrows the scheduler, blob store, dispatcher, guard and pool,
// which must outlive the server. Thread-safety: safe from any thread.
#pragma once

#include <memory>

#include "quantd/v1/worker.grpc.pb.h"
#include "server/api/blob_transfer.h"
#include "server/api/call_guard.h"
#include "server/api/handler_pool.h"
#include "server/api/lease_dispatcher.h"
#include "server/api/parsed_request.h"
#include "server/artifacts/blob_store.h"
#include "server/scheduler/scheduler.h"
#include "spdlog/logger.h"

namespace quantd::api {

class WorkerGatewayImpl final
    : public quantd::v1::WorkerGateway::CallbackService {
 public:
  WorkerGatewayImpl(scheduler::Scheduler* scheduler,
                    artifacts::BlobStore* blobs, LeaseDispatcher* dispatcher,
                    const CallGuard* guard, HandlerPool* pool,
                    TransferOptions transfer,
                    std::shared_ptr<spdlog::logger> log);

  grpc::ServerUnaryReactor* RegisterWorker(
      grpc::CallbackServerContext* context,
      const quantd::v1::RegisterWorkerRequest* request,
      quantd::v1::RegisterWorkerResponse* response) override;
  grpc::ServerUnaryReactor* LeaseJob(
      grpc::CallbackServerContext* context,
      const quantd::v1::LeaseJobRequest* request,
      quantd::v1::LeaseJobResponse* response) override;
  grpc::ServerUnaryReactor* Heartbeat(
      grpc::CallbackServerContext* context,
      const quantd::v1::HeartbeatRequest* request,
      quantd::v1::HeartbeatResponse* response) override;
  // ReportEvents and UploadArtifact, whose reactors read ParsedRequest (a
  // different type from the generated methods').
  grpc::ServerReadReactor<ParsedRequest<quantd::v1::ReportEventsRequest>>*
  ReportEventsParsed(grpc::CallbackServerContext* context,
                     quantd::v1::ReportEventsResponse* response);
  grpc::ServerReadReactor<ParsedRequest<quantd::v1::UploadArtifactChunk>>*
  UploadArtifactParsed(grpc::CallbackServerContext* context,
                       quantd::v1::UploadArtifactResponse* response);
  grpc::ServerUnaryReactor* CompleteJob(
      grpc::CallbackServerContext* context,
      const quantd::v1::CompleteJobRequest* request,
      quantd::v1::CompleteJobResponse* response) override;

 private:
  grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* context,
                                 const absl::Status& status, const char* rpc);

  scheduler::Scheduler* const scheduler_;
  artifacts::BlobStore* const blobs_;
  LeaseDispatcher* const dispatcher_;
  const CallGuard* const guard_;
  HandlerPool* const pool_;
  const TransferOptions transfer_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace quantd::api
