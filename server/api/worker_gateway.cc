#include "server/api/worker_gateway.h"

#include "common/status.h"
#include "server/api/status_mapping.h"

namespace quantd::api {
namespace {

constexpr double kMaxLeaseWaitSeconds = 60;

// Applies each ReportEventsRequest of the stream in order; the first error
// ends the call and later messages are not applied.
class ReportEventsReactor
    : public grpc::ServerReadReactor<quantd::v1::ReportEventsRequest> {
 public:
  ReportEventsReactor(grpc::CallbackServerContext* context, spdlog::logger* log,
                      scheduler::Scheduler* scheduler,
                      quantd::v1::ReportEventsResponse* response)
      : context_(context),
        log_(log),
        scheduler_(scheduler),
        response_(response) {
    StartRead(&request_);
  }
  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    auto last = scheduler_->ReportEvents(request_);
    if (!last.ok()) {
      Finish(Reply(context_, last.status(), *log_, "ReportEvents"));
      return;
    }
    response_->set_last_sequence(*last);
    StartRead(&request_);
  }
  void OnDone() override { delete this; }

 private:
  grpc::CallbackServerContext* const context_;
  spdlog::logger* const log_;
  scheduler::Scheduler* const scheduler_;
  quantd::v1::ReportEventsResponse* const response_;
  quantd::v1::ReportEventsRequest request_;
};

}  // namespace

WorkerGatewayImpl::WorkerGatewayImpl(scheduler::Scheduler* scheduler,
                                     artifacts::BlobStore* blobs,
                                     LeaseDispatcher* dispatcher,
                                     TransferOptions transfer,
                                     std::shared_ptr<spdlog::logger> log)
    : scheduler_(scheduler),
      blobs_(blobs),
      dispatcher_(dispatcher),
      transfer_(transfer),
      log_(std::move(log)) {}

grpc::ServerUnaryReactor* WorkerGatewayImpl::Done(
    grpc::CallbackServerContext* context, const absl::Status& status,
    const char* rpc) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(Reply(context, status, *log_, rpc));
  return reactor;
}

grpc::ServerUnaryReactor* WorkerGatewayImpl::RegisterWorker(
    grpc::CallbackServerContext* context,
    const quantd::v1::RegisterWorkerRequest* request,
    quantd::v1::RegisterWorkerResponse* response) {
  auto registered = scheduler_->RegisterWorker(*request);
  if (registered.ok()) *response = std::move(*registered);
  return Done(context, registered.status(), "RegisterWorker");
}

grpc::ServerUnaryReactor* WorkerGatewayImpl::LeaseJob(
    grpc::CallbackServerContext* context,
    const quantd::v1::LeaseJobRequest* request,
    quantd::v1::LeaseJobResponse* response) {
  const double wait = request->wait_seconds();
  if (!(wait >= 0 && wait <= kMaxLeaseWaitSeconds)) {
    return Done(context, InvalidFieldError("wait_seconds", "must be in 0..60"),
                "LeaseJob");
  }
  if (wait == 0) {
    auto lease = scheduler_->TryLease(request->worker_id());
    if (lease.ok() && lease->has_value()) {
      *response->mutable_lease() = std::move(**lease);
    }
    return Done(context, lease.status(), "LeaseJob");
  }
  // Long poll: parked in the dispatcher until a job or the deadline comes.
  auto* waiter = new LeaseWaiter(dispatcher_, response);
  dispatcher_->Add(waiter, request->worker_id(),
                   absl::Now() + absl::Seconds(wait));
  return waiter;
}

grpc::ServerUnaryReactor* WorkerGatewayImpl::Heartbeat(
    grpc::CallbackServerContext* context,
    const quantd::v1::HeartbeatRequest* request,
    quantd::v1::HeartbeatResponse* response) {
  auto beat = scheduler_->Heartbeat(*request);
  if (beat.ok()) *response = std::move(*beat);
  return Done(context, beat.status(), "Heartbeat");
}

grpc::ServerReadReactor<quantd::v1::ReportEventsRequest>*
WorkerGatewayImpl::ReportEvents(grpc::CallbackServerContext* context,
                                quantd::v1::ReportEventsResponse* response) {
  return new ReportEventsReactor(context, log_.get(), scheduler_, response);
}

grpc::ServerReadReactor<quantd::v1::UploadArtifactChunk>*
WorkerGatewayImpl::UploadArtifact(
    grpc::CallbackServerContext* context,
    quantd::v1::UploadArtifactResponse* response) {
  return new UploadArtifactReactor(context, log_.get(), scheduler_, blobs_,
                                   transfer_, response);
}

grpc::ServerUnaryReactor* WorkerGatewayImpl::CompleteJob(
    grpc::CallbackServerContext* context,
    const quantd::v1::CompleteJobRequest* request,
    quantd::v1::CompleteJobResponse* response) {
  auto job = scheduler_->Complete(*request);
  if (job.ok()) *response->mutable_job() = std::move(*job);
  return Done(context, job.status(), "CompleteJob");
}

}  // namespace quantd::api
