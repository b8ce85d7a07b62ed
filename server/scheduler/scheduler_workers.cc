// The worker-facing half of the Scheduler: registration, leases,
// heartbeats, event reports, artifacts and completion. Every call about a
// job presents the lease's fencing token and is checked inside the same
// store transaction that applies it.
#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/sha256.h"
#include "common/status.h"
#include "contract/export_format.h"
#include "server/scheduler/job_codec.h"
#include "server/scheduler/placement.h"
#include "server/scheduler/scheduler.h"
#include "server/scheduler/transitions.h"

namespace quantd::scheduler {
namespace {

constexpr size_t kMaxWorkerIdChars = 128;
constexpr int kMaxEventsPerReport = 1000;
constexpr size_t kMaxArtifactNameChars = 512;

absl::Status CheckWorkerId(const std::string& worker_id) {
  if (worker_id.empty() || worker_id.size() > kMaxWorkerIdChars) {
    return InvalidFieldError("worker_id", "must be 1..128 characters");
  }
  return absl::OkStatus();
}

absl::Status ValidateArtifact(const quantd::v1::Artifact& artifact) {
  const std::string& name = artifact.name();
  if (name.empty() || name.size() > kMaxArtifactNameChars || name[0] == '/') {
    return InvalidFieldError("artifact.name",
                             "must be a relative path of 1..512 characters");
  }
  for (absl::string_view part : absl::StrSplit(name, '/')) {
    if (part.empty() || part == "." || part == "..") {
      return InvalidFieldError("artifact.name",
                               "must not contain empty, \".\" or \"..\" parts");
    }
  }
  static const std::set<std::string> kKinds = [] {
    std::set<std::string> kinds = {"report", "manifest", "checkpoint", "plot",
                                   "log"};
    for (const contract::ExportFormatInfo& format : contract::ExportFormats()) {
      kinds.insert(format.artifact_kind);
    }
    return kinds;
  }();
  if (kKinds.count(artifact.kind()) == 0) {
    return InvalidFieldError(
        "artifact.kind",
        absl::StrCat("unknown kind \"", artifact.kind(), "\""));
  }
  return ParseBlobRef(artifact.blob(), "artifact.blob").status();
}

// Applies one reported event to `job`; returns its body to append, or ""
// when it is a repeat to drop.
absl::StatusOr<std::string> ApplyReported(store::JobRecord& job,
                                          quantd::v1::JobEvent event,
                                          int index) {
  const std::string field = absl::StrCat("events[", index, "]");
  event.clear_job_id();
  event.clear_sequence();
  event.clear_time();
  switch (event.kind_case()) {
    case quantd::v1::JobEvent::kStateChange:
      if (event.state_change().to() != quantd::v1::JOB_STATE_RUNNING) {
        return InvalidFieldError(field + ".state_change.to",
                                 "workers report only RUNNING; finish with "
                                 "CompleteJob");
      }
      if (job.state == store::JobState::kRunning) return std::string();
      job.state = store::JobState::kRunning;
      return StateChangePayload(
          store::JobState::kLeased, store::JobState::kRunning,
          absl::StrCat("engine started on worker ", job.worker_id),
          job.attempt);
    case quantd::v1::JobEvent::kProgress:
      job.progress = event.progress().SerializeAsString();
      return event.SerializeAsString();
    case quantd::v1::JobEvent::kLog:
      return event.SerializeAsString();
    case quantd::v1::JobEvent::kArtifact:
      return InvalidFieldError(field + ".artifact", "use UploadArtifact");
    case quantd::v1::JobEvent::kTerminal:
      return InvalidFieldError(field + ".terminal", "use CompleteJob");
    case quantd::v1::JobEvent::KIND_NOT_SET:
      break;
  }
  return InvalidFieldError(field, "has no kind");
}

}  // namespace

absl::StatusOr<quantd::v1::RegisterWorkerResponse> Scheduler::RegisterWorker(
    const quantd::v1::RegisterWorkerRequest& request) {
  QUANTD_RETURN_IF_ERROR(CheckWorkerId(request.worker_id()));
  store::WorkerRecord worker =
      WorkerFromRegistration(request, clock_->NowMillis());
  QUANTD_RETURN_IF_ERROR(store_->UpsertWorker(worker));
  log_->info("worker={} registered kinds={} device_memory={} methods={}",
             worker.id, absl::StrJoin(worker.device_kinds, ","),
             worker.device_memory_bytes, absl::StrJoin(worker.methods, ","));
  {
    absl::MutexLock lock(&mu_);
    workers_[worker.id] = std::move(worker);
  }
  quantd::v1::RegisterWorkerResponse response;
  response.set_heartbeat_interval_seconds(options_.heartbeat_interval_seconds);
  response.set_lease_timeout_seconds(options_.lease_timeout_seconds);
  return response;
}

absl::StatusOr<store::WorkerRecord> Scheduler::FindWorker(
    const std::string& worker_id) {
  QUANTD_RETURN_IF_ERROR(CheckWorkerId(worker_id));
  {
    absl::MutexLock lock(&mu_);
    auto it = workers_.find(worker_id);
    if (it != workers_.end()) return it->second;
  }
  // Registered with another scheduler replica, or before a restart.
  QUANTD_ASSIGN_OR_RETURN(std::vector<store::WorkerRecord> workers,
                          store_->ListWorkers());
  for (store::WorkerRecord& worker : workers) {
    if (worker.id != worker_id) continue;
    absl::MutexLock lock(&mu_);
    workers_[worker_id] = worker;
    return worker;
  }
  return absl::NotFoundError(
      absl::StrCat("worker_id: worker ", worker_id,
                   " is not registered; call RegisterWorker"));
}

absl::StatusOr<std::optional<quantd::v1::Lease>> Scheduler::TryLease(
    const std::string& worker_id) {
  QUANTD_ASSIGN_OR_RETURN(store::WorkerRecord worker, FindWorker(worker_id));
  const int64_t now = clock_->NowMillis();
  const int64_t timeout_ms = Millis(options_.lease_timeout_seconds);
  QUANTD_ASSIGN_OR_RETURN(
      std::optional<store::Committed> claimed,
      store_->ClaimJob(FilterFor(worker, now, options_.max_running_per_tenant),
                       [&](store::JobRecord& job) {
                         return internal::Lease(job, worker_id, now,
                                                timeout_ms);
                       }));
  if (!claimed.has_value()) return std::nullopt;
  const store::JobRecord& job = claimed->job;
  if (metrics_) {
    metrics_->LeaseGranted();
    metrics_->ObserveQueueWait(
        static_cast<double>(std::max<int64_t>(now - job.queued_time_ms, 0)) /
        1000);
  }
  log_->info("job={} leased worker={} attempt={} token={}", job.id, worker_id,
             job.attempt, job.fencing_token);
  AfterCommit(*claimed);
  quantd::v1::Lease lease;
  *lease.mutable_job() = JobToProto(job);
  lease.set_fencing_token(job.fencing_token);
  QUANTD_ASSIGN_OR_RETURN(std::vector<store::ArtifactRecord> artifacts,
                          store_->ListArtifacts(job.id));
  // One artifact a name (a newer upload replaced an older one), so this is
  // every block file and the newest streams file.
  std::sort(artifacts.begin(), artifacts.end(),
            [](const store::ArtifactRecord& a, const store::ArtifactRecord& b) {
              return a.name < b.name;
            });
  for (const store::ArtifactRecord& artifact : artifacts) {
    if (artifact.kind != "checkpoint") continue;
    *lease.add_resume_files() = ArtifactToProto(artifact);
  }
  return lease;
}

absl::StatusOr<quantd::v1::HeartbeatResponse> Scheduler::Heartbeat(
    const quantd::v1::HeartbeatRequest& request) {
  QUANTD_RETURN_IF_ERROR(CheckWorkerId(request.worker_id()));
  const int64_t now = clock_->NowMillis();
  absl::Status touched = store_->TouchWorker(request.worker_id(), now);
  if (absl::IsNotFound(touched)) {
    return absl::NotFoundError(absl::StrCat(
        "worker_id: worker ", request.worker_id(), " is not registered"));
  }
  QUANTD_RETURN_IF_ERROR(touched);
  const int64_t expiry = now + Millis(options_.lease_timeout_seconds);
  quantd::v1::HeartbeatResponse response;
  for (const quantd::v1::HeldLease& held : request.leases()) {
    bool cancel = false;
    auto renewed = store_->UpdateJob(
        held.job_id(),
        [&](store::JobRecord& job) -> absl::StatusOr<store::JobUpdate> {
          if (job.worker_id != request.worker_id()) {
            return absl::FailedPreconditionError("held by another worker");
          }
          QUANTD_RETURN_IF_ERROR(
              internal::CheckFencing(job, held.fencing_token()));
          job.lease_expiry_ms = expiry;
          cancel = job.cancel_requested;
          return store::JobUpdate{};
        });
    if (renewed.ok()) {
      if (cancel) response.add_cancel_job_ids(held.job_id());
    } else if (absl::IsFailedPrecondition(renewed.status()) ||
               absl::IsNotFound(renewed.status())) {
      response.add_revoked_job_ids(held.job_id());
    } else {
      return renewed.status();
    }
  }
  return response;
}

absl::StatusOr<uint64_t> Scheduler::ReportEvents(
    const quantd::v1::ReportEventsRequest& request) {
  if (request.job_id().empty()) return InvalidFieldError("job_id", "required");
  if (request.events_size() > kMaxEventsPerReport) {
    return InvalidFieldError("events", "at most 1000 events per request");
  }
  const int64_t now = clock_->NowMillis();
  const int64_t expiry = now + Millis(options_.lease_timeout_seconds);
  QUANTD_ASSIGN_OR_RETURN(
      store::Committed committed,
      store_->UpdateJob(
          request.job_id(),
          [&](store::JobRecord& job) -> absl::StatusOr<store::JobUpdate> {
            QUANTD_RETURN_IF_ERROR(
                internal::CheckFencing(job, request.fencing_token()));
            store::JobUpdate update{{}, now, {}};
            for (int i = 0; i < request.events_size(); ++i) {
              QUANTD_ASSIGN_OR_RETURN(std::string body,
                                      ApplyReported(job, request.events(i), i));
              if (!body.empty()) update.events.push_back(std::move(body));
            }
            // Reports prove the holder is alive, like a heartbeat.
            job.lease_expiry_ms = expiry;
            return update;
          }));
  AfterCommit(committed);
  return committed.job.last_sequence;
}

absl::Status Scheduler::CheckLease(const std::string& job_id,
                                   uint64_t fencing_token) {
  if (job_id.empty()) return InvalidFieldError("job_id", "required");
  QUANTD_ASSIGN_OR_RETURN(store::JobRecord job, store_->GetJob(job_id));
  return internal::CheckFencing(job, fencing_token);
}

absl::StatusOr<quantd::v1::Artifact> Scheduler::AttachArtifact(
    const std::string& job_id, uint64_t fencing_token,
    const quantd::v1::Artifact& artifact) {
  QUANTD_RETURN_IF_ERROR(ValidateArtifact(artifact));
  QUANTD_ASSIGN_OR_RETURN(std::string hex,
                          ParseBlobRef(artifact.blob(), "artifact.blob"));
  const int64_t now = clock_->NowMillis();
  QUANTD_ASSIGN_OR_RETURN(
      store::Committed committed,
      store_->UpdateJob(
          job_id,
          [&](store::JobRecord& job) -> absl::StatusOr<store::JobUpdate> {
            QUANTD_RETURN_IF_ERROR(internal::CheckFencing(job, fencing_token));
            store::ArtifactRecord record{job.id,
                                         artifact.name(),
                                         hex,
                                         artifact.size_bytes(),
                                         artifact.kind(),
                                         now};
            return store::JobUpdate{{ArtifactPayload(artifact)}, now, {record}};
          }));
  AfterCommit(committed);
  return artifact;
}

absl::Status Scheduler::CheckArtifact(const quantd::v1::Artifact& artifact) {
  return ValidateArtifact(artifact);
}

absl::Status Scheduler::RecordBlob(const std::string& hex, uint64_t size_bytes,
                                   const std::string& kind) {
  return store_->PutBlob(
      store::BlobRecord{hex, size_bytes, kind, clock_->NowMillis()});
}

absl::StatusOr<std::set<std::string>> Scheduler::ReferencedBlobs() {
  return store_->ListReferencedBlobs();
}

absl::Status Scheduler::CheckStore() { return store_->Ping(); }

absl::StatusOr<quantd::v1::Job> Scheduler::Complete(
    const quantd::v1::CompleteJobRequest& request) {
  if (request.job_id().empty()) return InvalidFieldError("job_id", "required");
  const int64_t now = clock_->NowMillis();
  const store::JobState state = FromProtoState(request.state());
  if (!request.release() && !store::IsTerminal(state)) {
    return InvalidFieldError("state", "must be SUCCEEDED, FAILED or CANCELLED");
  }
  QUANTD_ASSIGN_OR_RETURN(
      store::Committed committed,
      store_->UpdateJob(
          request.job_id(),
          [&](store::JobRecord& job) -> absl::StatusOr<store::JobUpdate> {
            // A retried CompleteJob that already took effect is a no-op.
            if (store::IsTerminal(job.state) && !request.release() &&
                job.fencing_token == request.fencing_token() &&
                job.state == state) {
              return store::JobUpdate{};
            }
            QUANTD_RETURN_IF_ERROR(
                internal::CheckFencing(job, request.fencing_token()));
            const std::string by = absl::StrCat("worker ", job.worker_id);
            if (request.release() && !job.cancel_requested) {
              return internal::Requeue(job, absl::StrCat("released by ", by),
                                       now, job.attempt, now);
            }
            if (request.release() || state == store::JobState::kCancelled) {
              return internal::Finish(
                  job, store::JobState::kCancelled,
                  absl::StrCat("cancelled by ", by), now,
                  ErrorPayload(absl::StatusCode::kCancelled, "cancelled"), "");
            }
            if (state == store::JobState::kSucceeded) {
              return internal::Finish(job, state,
                                      absl::StrCat("succeeded on ", by), now,
                                      "", request.result().SerializeAsString());
            }
            quantd::v1::ErrorInfo error = request.error();
            if (error.code() == 0) error.set_code(2);  // UNKNOWN
            if (error.message().empty()) {
              error.set_message(absl::StrCat("engine exited with status ",
                                             request.exit_status()));
            }
            return internal::Finish(
                job, state,
                absl::StrCat("failed on ", by, " (exit status ",
                             request.exit_status(), ")"),
                now, error.SerializeAsString(),
                request.result().SerializeAsString());
          }));
  log_->info("job={} completed state={}", request.job_id(),
             store::JobStateName(committed.job.state));
  AfterCommit(committed);
  return JobToProto(committed.job);
}

absl::StatusOr<std::vector<quantd::v1::WorkerInfo>> Scheduler::ListWorkers(
    bool include_lost) {
  std::vector<store::WorkerRecord> workers;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, worker] : workers_) workers.push_back(worker);
  }
  const int64_t now = clock_->NowMillis();
  std::vector<quantd::v1::WorkerInfo> infos;
  for (const store::WorkerRecord& worker : workers) {
    quantd::v1::WorkerInfo info;
    info.set_worker_id(worker.id);
    info.set_alive(now - worker.last_seen_ms <=
                   Millis(options_.lease_timeout_seconds));
    if (!info.alive() && !include_lost) continue;
    if (!info.mutable_capabilities()->ParseFromString(worker.capabilities)) {
      return absl::InternalError(absl::StrCat("stored capabilities of worker ",
                                              worker.id, " do not parse"));
    }
    *info.mutable_register_time() = ToTimestamp(worker.registered_time_ms);
    *info.mutable_last_heartbeat_time() = ToTimestamp(worker.last_seen_ms);
    QUANTD_ASSIGN_OR_RETURN(std::vector<store::JobRecord> held,
                            store_->ListHeldJobs(worker.id));
    for (const store::JobRecord& job : held) info.add_job_ids(job.id);
    infos.push_back(std::move(info));
  }
  return infos;
}

}  // namespace quantd::scheduler
