#include "server/api/job_service.h"

#include "absl/strings/str_cat.h"
#include "server/api/status_mapping.h"

namespace quantd::api {
namespace {

// A write reactor that only reports an error (for streams refused up front).
template <typename T>
class ErrorWriter : public grpc::ServerWriteReactor<T> {
 public:
  explicit ErrorWriter(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

JobServiceImpl::JobServiceImpl(scheduler::Scheduler* scheduler,
                               artifacts::BlobStore* blobs, EventHub* hub,
                               TransferOptions transfer, WatchOptions watch,
                               std::shared_ptr<spdlog::logger> log)
    : scheduler_(scheduler),
      blobs_(blobs),
      hub_(hub),
      transfer_(transfer),
      watch_(watch),
      log_(std::move(log)) {}

grpc::ServerUnaryReactor* JobServiceImpl::Done(
    grpc::CallbackServerContext* context, const absl::Status& status,
    const char* rpc) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(Reply(context, status, *log_, rpc));
  return reactor;
}

grpc::ServerUnaryReactor* JobServiceImpl::SubmitJob(
    grpc::CallbackServerContext* context,
    const quantd::v1::SubmitJobRequest* request, quantd::v1::Job* response) {
  auto caller = CallerOf(context);
  if (!caller.ok()) return Done(context, caller.status(), "SubmitJob");
  auto job = scheduler_->Submit(*caller, *request);
  if (job.ok()) *response = std::move(*job);
  return Done(context, job.status(), "SubmitJob");
}

grpc::ServerUnaryReactor* JobServiceImpl::GetJob(
    grpc::CallbackServerContext* context,
    const quantd::v1::GetJobRequest* request, quantd::v1::Job* response) {
  auto caller = CallerOf(context);
  if (!caller.ok()) return Done(context, caller.status(), "GetJob");
  auto job = scheduler_->Get(*caller, request->id());
  if (job.ok()) *response = std::move(*job);
  return Done(context, job.status(), "GetJob");
}

grpc::ServerUnaryReactor* JobServiceImpl::ListJobs(
    grpc::CallbackServerContext* context,
    const quantd::v1::ListJobsRequest* request,
    quantd::v1::ListJobsResponse* response) {
  auto caller = CallerOf(context);
  if (!caller.ok()) return Done(context, caller.status(), "ListJobs");
  auto page = scheduler_->List(*caller, *request);
  if (page.ok()) *response = std::move(*page);
  return Done(context, page.status(), "ListJobs");
}

grpc::ServerUnaryReactor* JobServiceImpl::CancelJob(
    grpc::CallbackServerContext* context,
    const quantd::v1::CancelJobRequest* request, quantd::v1::Job* response) {
  auto caller = CallerOf(context);
  if (!caller.ok()) return Done(context, caller.status(), "CancelJob");
  auto job = scheduler_->Cancel(*caller, *request);
  if (job.ok()) *response = std::move(*job);
  return Done(context, job.status(), "CancelJob");
}

grpc::ServerWriteReactor<quantd::v1::JobEvent>* JobServiceImpl::WatchJob(
    grpc::CallbackServerContext* context,
    const quantd::v1::WatchJobRequest* request) {
  auto refuse = [&](const absl::Status& status) {
    return new ErrorWriter<quantd::v1::JobEvent>(
        Reply(context, status, *log_, "WatchJob"));
  };
  auto caller = CallerOf(context);
  if (!caller.ok()) return refuse(caller.status());
  auto job = scheduler_->Get(*caller, request->id());
  if (!job.ok()) return refuse(job.status());
  if (request->after_sequence() > job->last_sequence()) {
    return refuse(absl::OutOfRangeError(absl::StrCat(
        "after_sequence: ", request->after_sequence(),
        " is beyond the job's last sequence ", job->last_sequence())));
  }
  const bool terminal = job->state() >= quantd::v1::JOB_STATE_SUCCEEDED;
  if (terminal && request->after_sequence() == job->last_sequence()) {
    // The terminal event was already delivered: nothing more will come.
    return new ErrorWriter<quantd::v1::JobEvent>(grpc::Status::OK);
  }
  return new WatchReactor(scheduler_, hub_, watch_, request->id(),
                          request->after_sequence());
}

grpc::ServerUnaryReactor* JobServiceImpl::ListArtifacts(
    grpc::CallbackServerContext* context,
    const quantd::v1::ListArtifactsRequest* request,
    quantd::v1::ListArtifactsResponse* response) {
  auto caller = CallerOf(context);
  if (!caller.ok()) return Done(context, caller.status(), "ListArtifacts");
  auto artifacts = scheduler_->ListArtifacts(*caller, request->job_id());
  if (artifacts.ok()) {
    for (auto& artifact : *artifacts) {
      *response->add_artifacts() = std::move(artifact);
    }
  }
  return Done(context, artifacts.status(), "ListArtifacts");
}

grpc::ServerWriteReactor<quantd::v1::DownloadArtifactChunk>*
JobServiceImpl::DownloadArtifact(
    grpc::CallbackServerContext* context,
    const quantd::v1::DownloadArtifactRequest* request) {
  auto caller = CallerOf(context);
  absl::StatusOr<DownloadReactor*> reactor =
      caller.ok()
          ? StartDownload(scheduler_, blobs_, *caller, *request, transfer_)
          : absl::StatusOr<DownloadReactor*>(caller.status());
  if (reactor.ok()) return *reactor;
  return new ErrorWriter<quantd::v1::DownloadArtifactChunk>(
      Reply(context, reactor.status(), *log_, "DownloadArtifact"));
}

grpc::ServerReadReactor<quantd::v1::UploadBlobChunk>*
JobServiceImpl::UploadBlob(grpc::CallbackServerContext* context,
                           quantd::v1::UploadBlobResponse* response) {
  return new UploadBlobReactor(context, log_.get(), scheduler_, blobs_,
                               transfer_, response);
}

grpc::ServerUnaryReactor* JobServiceImpl::ListWorkers(
    grpc::CallbackServerContext* context,
    const quantd::v1::ListWorkersRequest* request,
    quantd::v1::ListWorkersResponse* response) {
  auto caller = CallerOf(context);
  if (!caller.ok()) return Done(context, caller.status(), "ListWorkers");
  auto workers = scheduler_->ListWorkers(request->include_lost());
  if (workers.ok()) {
    for (auto& worker : *workers) *response->add_workers() = std::move(worker);
  }
  return Done(context, workers.status(), "ListWorkers");
}

}  // namespace quantd::api
