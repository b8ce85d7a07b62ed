#include "server/api/job_service.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "server/api/status_mapping.h"

namespace quantd::api {
namespace {

constexpr char kSubmitJob[] = "JobService.SubmitJob";
constexpr char kGetJob[] = "JobService.GetJob";
constexpr char kListJobs[] = "JobService.ListJobs";
constexpr char kCancelJob[] = "JobService.CancelJob";
constexpr char kWatchJob[] = "JobService.WatchJob";
constexpr char kListArtifacts[] = "JobService.ListArtifacts";
constexpr char kDownloadArtifact[] = "JobService.DownloadArtifact";
constexpr char kListWorkers[] = "JobService.ListWorkers";

}  // namespace

JobServiceImpl::JobServiceImpl(scheduler::Scheduler* scheduler,
                               artifacts::BlobStore* blobs,
                               JobServiceParts parts, TransferOptions transfer,
                               WatchOptions watch,
                               std::shared_ptr<spdlog::logger> log)
    : scheduler_(scheduler),
      blobs_(blobs),
      parts_(parts),
      transfer_(transfer),
      watch_(watch),
      log_(std::move(log)) {
  using quantd::v1::JobService;
  ParseCheck check(JobService::service_full_name(), parts_.guard, log_.get(),
                   [this](int index, grpc::internal::MethodHandler* handler) {
                     MarkMethodCallback(index, handler);
                   });
  check.Unary("SubmitJob", this, &JobServiceImpl::SubmitJob);
  check.Unary("GetJob", this, &JobServiceImpl::GetJob);
  check.Unary("ListJobs", this, &JobServiceImpl::ListJobs);
  check.Unary("CancelJob", this, &JobServiceImpl::CancelJob);
  check.ServerStreaming("WatchJob", this, &JobServiceImpl::WatchJob);
  check.Unary("ListArtifacts", this, &JobServiceImpl::ListArtifacts);
  check.ServerStreaming("DownloadArtifact", this,
                        &JobServiceImpl::DownloadArtifact);
  check.Unary("ListWorkers", this, &JobServiceImpl::ListWorkers);
  check.ClientStreaming("UploadBlob", this, &JobServiceImpl::UploadBlobParsed);
}

grpc::ServerUnaryReactor* JobServiceImpl::SubmitJob(
    grpc::CallbackServerContext* context,
    const quantd::v1::SubmitJobRequest* request, quantd::v1::Job* response) {
  // Slow: the scheduler inspects the model and commits the job.
  return parts_.submit_pool->Serve(
      context, kSubmitJob, request, [=, this](const CallIdentity& who) {
        auto job =
            scheduler_->Submit(parts_.guard->Owner(who.principal), *request);
        if (job.ok()) *response = std::move(*job);
        return parts_.guard->Conclude(
            kSubmitJob, who, job.ok() ? response->id() : "", job.status(),
            Subject::kPlain, request->validate_only() ? "validate_only" : "");
      });
}

grpc::ServerUnaryReactor* JobServiceImpl::GetJob(
    grpc::CallbackServerContext* context,
    const quantd::v1::GetJobRequest* request, quantd::v1::Job* response) {
  return parts_.store_pool->Serve(
      context, kGetJob, request, [=, this](const CallIdentity& who) {
        auto job =
            scheduler_->Get(parts_.guard->Viewer(who.principal), request->id());
        if (job.ok()) *response = std::move(*job);
        return parts_.guard->Conclude(kGetJob, who, request->id(), job.status(),
                                      Subject::kJob);
      });
}

grpc::ServerUnaryReactor* JobServiceImpl::ListJobs(
    grpc::CallbackServerContext* context,
    const quantd::v1::ListJobsRequest* request,
    quantd::v1::ListJobsResponse* response) {
  return parts_.store_pool->Serve(
      context, kListJobs, request, [=, this](const CallIdentity& who) {
        quantd::v1::ListJobsRequest query = *request;
        // An admin reads as every tenant; "" still means its own.
        if (parts_.guard->IsAdmin(who.principal) && query.tenant().empty()) {
          query.set_tenant(who.principal.tenant);
        }
        auto page =
            scheduler_->List(parts_.guard->Viewer(who.principal), query);
        if (page.ok()) *response = std::move(*page);
        return parts_.guard->Conclude(kListJobs, who, "", page.status());
      });
}

grpc::ServerUnaryReactor* JobServiceImpl::CancelJob(
    grpc::CallbackServerContext* context,
    const quantd::v1::CancelJobRequest* request, quantd::v1::Job* response) {
  return parts_.store_pool->Serve(
      context, kCancelJob, request, [=, this](const CallIdentity& who) {
        auto job =
            scheduler_->Cancel(parts_.guard->Viewer(who.principal), *request);
        if (job.ok()) *response = std::move(*job);
        return parts_.guard->Conclude(kCancelJob, who, request->id(),
                                      job.status(), Subject::kJob);
      });
}

grpc::ServerWriteReactor<quantd::v1::JobEvent>* JobServiceImpl::WatchJob(
    grpc::CallbackServerContext* context,
    const quantd::v1::WatchJobRequest* request) {
  auto refuse = [&](const absl::Status& status) {
    return new ErrorWriter<quantd::v1::JobEvent>(
        Reply(context, status, *log_, "WatchJob"));
  };
  auto who = parts_.guard->Admit(context, kWatchJob, request);
  if (!who.ok()) return refuse(who.status());
  // The job lookup reads the store: on the pool, as the stream's reads.
  WatchOpening opening = [this, who = *who, id = request->id(),
                          after = request->after_sequence()]()
      -> absl::StatusOr<std::optional<uint64_t>> {
    auto job = scheduler_->Get(parts_.guard->Viewer(who.principal), id);
    if (!job.ok()) {
      return parts_.guard->Conclude(kWatchJob, who, id, job.status(),
                                    Subject::kJob);
    }
    if (after > job->last_sequence()) {
      return absl::OutOfRangeError(absl::StrCat(
          "after_sequence: ", after, " is beyond the job's last sequence ",
          job->last_sequence()));
    }
    const bool terminal = job->state() >= quantd::v1::JOB_STATE_SUCCEEDED;
    // The terminal event was already delivered: nothing more will come.
    if (terminal && after == job->last_sequence()) return std::nullopt;
    return after;
  };
  return new WatchReactor(context, log_.get(), scheduler_, parts_.hub,
                          parts_.store_pool, watch_, request->id(),
                          std::move(opening));
}

grpc::ServerUnaryReactor* JobServiceImpl::ListArtifacts(
    grpc::CallbackServerContext* context,
    const quantd::v1::ListArtifactsRequest* request,
    quantd::v1::ListArtifactsResponse* response) {
  return parts_.store_pool->Serve(
      context, kListArtifacts, request, [=, this](const CallIdentity& who) {
        if (request->job_id().empty()) {
          return InvalidFieldError("job_id", "required");
        }
        auto artifacts = scheduler_->ListArtifacts(
            parts_.guard->Viewer(who.principal), request->job_id());
        if (artifacts.ok()) {
          for (auto& artifact : *artifacts) {
            *response->add_artifacts() = std::move(artifact);
          }
        }
        return parts_.guard->Conclude(kListArtifacts, who, request->job_id(),
                                      artifacts.status(), Subject::kJob);
      });
}

absl::Status JobServiceImpl::CheckDownload(
    const grpc::CallbackServerContext* context, const CallIdentity& who,
    const quantd::v1::DownloadArtifactRequest& request) {
  const auth::RoleSet roles = who.principal.roles;
  const bool admin = roles.Has(auth::Role::kAdmin);
  if (!request.blob().empty()) {
    // Raw blobs are job inputs, for workers; tenants fetch by job.
    if (!admin && !roles.Has(auth::Role::kWorker)) {
      return parts_.guard->Conclude(
          kDownloadArtifact, who, "",
          absl::PermissionDeniedError("downloading by blob reference needs a "
                                      "worker or admin token"));
    }
    if (admin) return absl::OkStatus();
    return parts_.guard->CheckWorkerCertificate(context, kDownloadArtifact,
                                                who);
  }
  if (!admin && !roles.Has(auth::Role::kRead)) {
    return parts_.guard->Conclude(
        kDownloadArtifact, who, request.job_id(),
        absl::PermissionDeniedError("downloading artifacts needs a read "
                                    "token"));
  }
  auto job =
      scheduler_->Get(parts_.guard->Viewer(who.principal), request.job_id());
  return parts_.guard->Conclude(kDownloadArtifact, who, request.job_id(),
                                job.status(), Subject::kJob);
}

grpc::ServerWriteReactor<quantd::v1::DownloadArtifactChunk>*
JobServiceImpl::DownloadArtifact(
    grpc::CallbackServerContext* context,
    const quantd::v1::DownloadArtifactRequest* request) {
  auto refuse = [&](const absl::Status& status) {
    return new ErrorWriter<quantd::v1::DownloadArtifactChunk>(
        Reply(context, status, *log_, "DownloadArtifact"));
  };
  auto who = parts_.guard->Admit(context, kDownloadArtifact, request);
  if (!who.ok()) return refuse(who.status());
  absl::Status shape = CheckDownloadRequest(*request);
  if (!shape.ok()) return refuse(shape);
  // The permission check and the plan read the store: on the pool.
  return new DownloadReactor(
      context, log_.get(), parts_.store_pool, blobs_,
      [=, this, who = *who,
       request = *request]() -> absl::StatusOr<DownloadPlan> {
        QUANTD_RETURN_IF_ERROR(CheckDownload(context, who, request));
        return PlanDownload(scheduler_, blobs_,
                            parts_.guard->Viewer(who.principal), request,
                            transfer_);
      });
}

grpc::ServerReadReactor<ParsedRequest<quantd::v1::UploadBlobChunk>>*
JobServiceImpl::UploadBlobParsed(grpc::CallbackServerContext* context,
                                 quantd::v1::UploadBlobResponse* response) {
  return new UploadBlobReactor(
      context, log_.get(), scheduler_, blobs_, transfer_, response,
      UploadGuard{parts_.guard, parts_.storage, parts_.store_pool});
}

grpc::ServerUnaryReactor* JobServiceImpl::ListWorkers(
    grpc::CallbackServerContext* context,
    const quantd::v1::ListWorkersRequest* request,
    quantd::v1::ListWorkersResponse* response) {
  return parts_.store_pool->Serve(
      context, kListWorkers, request, [=, this](const CallIdentity& who) {
        auto workers = scheduler_->ListWorkers(request->include_lost());
        // Which jobs a worker holds is other tenants' business.
        const bool redact =
            parts_.guard->enabled() && !parts_.guard->IsAdmin(who.principal);
        if (workers.ok()) {
          for (auto& worker : *workers) {
            if (redact) worker.clear_job_ids();
            *response->add_workers() = std::move(worker);
          }
        }
        return parts_.guard->Conclude(kListWorkers, who, "", workers.status());
      });
}

}  // namespace quantd::api
