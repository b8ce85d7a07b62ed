#include "server/api/worker_gateway.h"

#include "common/status.h"
#include "server/api/status_mapping.h"

namespace quantd::api {
namespace {

constexpr double kMaxLeaseWaitSeconds = 60;

constexpr char kRegisterWorker[] = "WorkerGateway.RegisterWorker";
constexpr char kLeaseJob[] = "WorkerGateway.LeaseJob";
constexpr char kHeartbeat[] = "WorkerGateway.Heartbeat";
constexpr char kReportEvents[] = "WorkerGateway.ReportEvents";
constexpr char kCompleteJob[] = "WorkerGateway.CompleteJob";

// Applies each ReportEventsRequest of the stream in order; the first error
// ends the call and later messages are not applied. One audit line per
// stream, naming the last job reported on. A message that does not parse
// is an error like any other.
class ReportEventsReactor
    : public grpc::ServerReadReactor<
          ParsedRequest<quantd::v1::ReportEventsRequest>> {
 public:
  ReportEventsReactor(grpc::CallbackServerContext* context, spdlog::logger* log,
                      scheduler::Scheduler* scheduler, const CallGuard* guard,
                      HandlerPool* pool,
                      quantd::v1::ReportEventsResponse* response)
      : context_(context),
        log_(log),
        scheduler_(scheduler),
        guard_(guard),
        pool_(pool),
        response_(response) {
    auto who = guard_->Admit(context, kReportEvents);
    if (!who.ok()) {
      Finish(Reply(context_, who.status(), *log_, "ReportEvents"));
      return;
    }
    who_ = std::move(*who);
    StartRead(&request_);
  }
  void OnReadDone(bool ok) override {
    if (!ok) {
      End(absl::OkStatus());
      return;
    }
    if (!request_.parsed) {
      End(UnparsableError(*request_.message.GetDescriptor()));
      return;
    }
    job_id_ = request_.message.job_id();
    // The events are committed on a pool thread; the stream reads its next
    // message only once they are, so they stay in order.
    const absl::Status posted = pool_->Post([this] {
      auto last = scheduler_->ReportEvents(request_.message);
      if (!last.ok()) {
        End(last.status());
        return;
      }
      response_->set_last_sequence(*last);
      StartRead(&request_);
    });
    if (!posted.ok()) End(posted);
  }
  void OnDone() override { delete this; }

 private:
  void End(const absl::Status& status) {
    Finish(Reply(context_,
                 guard_->Conclude(kReportEvents, *who_, job_id_, status), *log_,
                 "ReportEvents"));
  }

  grpc::CallbackServerContext* const context_;
  spdlog::logger* const log_;
  scheduler::Scheduler* const scheduler_;
  const CallGuard* const guard_;
  HandlerPool* const pool_;
  quantd::v1::ReportEventsResponse* const response_;
  std::optional<CallIdentity> who_;
  std::string job_id_;
  ParsedRequest<quantd::v1::ReportEventsRequest> request_;
};

}  // namespace

WorkerGatewayImpl::WorkerGatewayImpl(scheduler::Scheduler* scheduler,
                                     artifacts::BlobStore* blobs,
                                     LeaseDispatcher* dispatcher,
                                     const CallGuard* guard, HandlerPool* pool,
                                     TransferOptions transfer,
                                     std::shared_ptr<spdlog::logger> log)
    : scheduler_(scheduler),
      blobs_(blobs),
      dispatcher_(dispatcher),
      guard_(guard),
      pool_(pool),
      transfer_(transfer),
      log_(std::move(log)) {
  ParseCheck check(quantd::v1::WorkerGateway::service_full_name(), guard_,
                   log_.get(),
                   [this](int index, grpc::internal::MethodHandler* handler) {
                     MarkMethodCallback(index, handler);
                   });
  check.Unary("RegisterWorker", this, &WorkerGatewayImpl::RegisterWorker);
  check.Unary("LeaseJob", this, &WorkerGatewayImpl::LeaseJob);
  check.Unary("Heartbeat", this, &WorkerGatewayImpl::Heartbeat);
  check.ClientStreaming("ReportEvents", this,
                        &WorkerGatewayImpl::ReportEventsParsed);
  check.ClientStreaming("UploadArtifact", this,
                        &WorkerGatewayImpl::UploadArtifactParsed);
  check.Unary("CompleteJob", this, &WorkerGatewayImpl::CompleteJob);
}

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
  return pool_->Serve(
      context, kRegisterWorker, request, [=, this](const CallIdentity& who) {
        auto registered = scheduler_->RegisterWorker(*request);
        if (registered.ok()) *response = std::move(*registered);
        return guard_->Conclude(kRegisterWorker, who, "", registered.status(),
                                Subject::kPlain, request->worker_id());
      });
}

grpc::ServerUnaryReactor* WorkerGatewayImpl::LeaseJob(
    grpc::CallbackServerContext* context,
    const quantd::v1::LeaseJobRequest* request,
    quantd::v1::LeaseJobResponse* response) {
  auto who = guard_->Admit(context, kLeaseJob);
  if (!who.ok()) return Done(context, who.status(), "LeaseJob");
  const double wait = request->wait_seconds();
  if (!(wait >= 0 && wait <= kMaxLeaseWaitSeconds)) {
    return Done(context, InvalidFieldError("wait_seconds", "must be in 0..60"),
                "LeaseJob");
  }
  if (wait == 0) {
    return pool_->Finish(context, "LeaseJob", [=, this, who = *who] {
      auto lease = scheduler_->TryLease(request->worker_id());
      // Empty polls are not worth an audit line; grants and errors are.
      if (lease.ok() && !lease->has_value()) return absl::OkStatus();
      std::string job_id;
      if (lease.ok()) {
        job_id = (*lease)->job().id();
        *response->mutable_lease() = std::move(**lease);
      }
      return guard_->Conclude(kLeaseJob, who, job_id, lease.status(),
                              Subject::kPlain, request->worker_id());
    });
  }
  // Long poll: parked in the dispatcher until a job or the deadline comes.
  const CallGuard* guard = guard_;
  auto* waiter = new LeaseWaiter(
      dispatcher_, response,
      [guard, who = *who,
       worker = request->worker_id()](const std::string& job_id) {
        guard->Audit(kLeaseJob, who, job_id, absl::OkStatus(), "", worker);
      });
  dispatcher_->Add(waiter, request->worker_id(),
                   absl::Now() + absl::Seconds(wait));
  return waiter;
}

grpc::ServerUnaryReactor* WorkerGatewayImpl::Heartbeat(
    grpc::CallbackServerContext* context,
    const quantd::v1::HeartbeatRequest* request,
    quantd::v1::HeartbeatResponse* response) {
  return pool_->Serve(context, kHeartbeat, nullptr,
                      [=, this](const CallIdentity&) {
                        auto beat = scheduler_->Heartbeat(*request);
                        if (beat.ok()) *response = std::move(*beat);
                        return beat.status();
                      });
}

grpc::ServerReadReactor<ParsedRequest<quantd::v1::ReportEventsRequest>>*
WorkerGatewayImpl::ReportEventsParsed(
    grpc::CallbackServerContext* context,
    quantd::v1::ReportEventsResponse* response) {
  return new ReportEventsReactor(context, log_.get(), scheduler_, guard_, pool_,
                                 response);
}

grpc::ServerReadReactor<ParsedRequest<quantd::v1::UploadArtifactChunk>>*
WorkerGatewayImpl::UploadArtifactParsed(
    grpc::CallbackServerContext* context,
    quantd::v1::UploadArtifactResponse* response) {
  return new UploadArtifactReactor(context, log_.get(), scheduler_, blobs_,
                                   transfer_, response, guard_, pool_);
}

grpc::ServerUnaryReactor* WorkerGatewayImpl::CompleteJob(
    grpc::CallbackServerContext* context,
    const quantd::v1::CompleteJobRequest* request,
    quantd::v1::CompleteJobResponse* response) {
  return pool_->Serve(context, kCompleteJob, nullptr,
                      [=, this](const CallIdentity& who) {
                        auto job = scheduler_->Complete(*request);
                        if (job.ok())
                          *response->mutable_job() = std::move(*job);
                        return guard_->Conclude(
                            kCompleteJob, who, request->job_id(), job.status());
                      });
}

}  // namespace quantd::api
