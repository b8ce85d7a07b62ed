// The client-facing half of the Scheduler (submit, get, list, cancel,
// events, artifacts), its background loop and the post-commit fan-out. The
// worker-facing half is in scheduler_workers.cc.
#include "server/scheduler/scheduler.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "server/scheduler/job_codec.h"
#include "server/scheduler/memory_estimate.h"
#include "server/scheduler/placement.h"
#include "server/scheduler/transitions.h"

namespace quantd::scheduler {
namespace {

constexpr size_t kMaxRequestIdChars = 128;
constexpr uint32_t kDefaultPageSize = 100;
constexpr uint32_t kMaxPageSize = 1000;

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(c));
  return text;
}

// Page tokens are opaque to clients: the order and the last id returned.
std::string EncodePageToken(bool ascending, const std::string& last_id) {
  return absl::WebSafeBase64Escape(
      absl::StrCat(ascending ? "a:" : "d:", last_id));
}

absl::Status DecodePageToken(const std::string& token, bool ascending,
                             std::string* last_id) {
  std::string decoded;
  if (!absl::WebSafeBase64Unescape(token, &decoded) || decoded.size() < 3 ||
      decoded[1] != ':' || (decoded[0] != 'a' && decoded[0] != 'd')) {
    return InvalidFieldError("page_token", "malformed");
  }
  if ((decoded[0] == 'a') != ascending) {
    return InvalidFieldError("page_token", "was issued for another order_by");
  }
  *last_id = decoded.substr(2);
  return absl::OkStatus();
}

}  // namespace

Scheduler::Scheduler(store::JobStore* store, const Clock* clock,
                     SchedulerOptions options, AllowedRoots roots,
                     metrics::ServerMetrics* metrics,
                     std::shared_ptr<spdlog::logger> log)
    : store_(store),
      clock_(clock),
      options_(std::move(options)),
      roots_(std::move(roots)),
      metrics_(metrics),
      log_(std::move(log)),
      ids_([clock] { return static_cast<uint64_t>(clock->NowMillis()); },
           std::random_device{}()) {}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Start() {
  if (ticker_.joinable()) return;
  stop_ = std::make_unique<absl::Notification>();
  ticker_ = std::thread([this] {
    const absl::Duration interval =
        absl::Seconds(options_.tick_interval_seconds);
    while (!stop_->WaitForNotificationWithTimeout(interval)) Tick();
  });
}

void Scheduler::Stop() {
  if (!ticker_.joinable()) return;
  stop_->Notify();
  ticker_.join();
}

int64_t Scheduler::Millis(double seconds) const {
  return static_cast<int64_t>(seconds * 1000);
}

bool Scheduler::IsAdmin(const Caller& caller) const {
  return std::find(options_.admin_tenants.begin(), options_.admin_tenants.end(),
                   caller.tenant) != options_.admin_tenants.end();
}

absl::StatusOr<store::JobRecord> Scheduler::LoadVisible(const Caller& caller,
                                                        const std::string& id) {
  if (id.empty()) return InvalidFieldError("id", "required");
  auto job = store_->GetJob(id);
  if (job.ok() && job->tenant != caller.tenant && !IsAdmin(caller)) {
    // Another tenant's job does not exist for this caller.
    return absl::NotFoundError(absl::StrCat("job ", id, " not found"));
  }
  return job;
}

absl::StatusOr<store::JobRecord> Scheduler::BuildJob(
    const Caller& caller, const quantd::v1::SubmitJobRequest& request,
    ValidatedSpec validated) {
  const quantd::v1::JobSpec& spec = validated.spec;
  const MemoryEstimate estimate = EstimateMemory(validated.model, spec);
  const int64_t now = clock_->NowMillis();
  store::JobRecord job;
  job.tenant = caller.tenant;
  job.request_id = request.request_id();
  job.priority = spec.priority();
  job.max_attempts = spec.retry().max_attempts();
  job.method = spec.method();
  job.device = spec.resources().device();
  job.device_memory_bytes = spec.resources().device_memory_bytes()
                                ? spec.resources().device_memory_bytes()
                                : estimate.device_memory_bytes;
  job.host_memory_bytes = spec.resources().host_memory_bytes()
                              ? spec.resources().host_memory_bytes()
                              : estimate.host_memory_bytes;
  job.create_time_ms = now;
  job.queued_time_ms = now;
  if (spec.has_deadline()) job.deadline_ms = ToMillis(spec.deadline());
  job.labels.insert(spec.labels().begin(), spec.labels().end());
  job.input_blobs = std::move(validated.input_blobs);
  job.spec = spec.SerializeAsString();
  return job;
}

absl::Status Scheduler::CheckPlaceable(const store::JobRecord& job) {
  if (options_.queue_unplaceable) return absl::OkStatus();
  QUANTD_ASSIGN_OR_RETURN(std::vector<store::WorkerRecord> workers,
                          store_->ListWorkers());
  // Before any worker registered nothing is known: queue.
  if (workers.empty()) return absl::OkStatus();
  for (const store::WorkerRecord& worker : workers) {
    if (Fits(worker, job)) return absl::OkStatus();
  }
  return absl::ResourceExhaustedError(absl::StrCat(
      "resources: no registered worker can run this job (method ", job.method,
      ", device \"", job.device, "\", estimated ", job.device_memory_bytes,
      " device bytes and ", job.host_memory_bytes, " host bytes)"));
}

absl::StatusOr<quantd::v1::Job> Scheduler::Submit(
    const Caller& caller, const quantd::v1::SubmitJobRequest& request) {
  if (!request.validate_only()) {
    if (request.request_id().empty() ||
        request.request_id().size() > kMaxRequestIdChars) {
      return InvalidFieldError("request_id", "must be 1..128 characters");
    }
    QUANTD_ASSIGN_OR_RETURN(
        std::optional<store::JobRecord> existing,
        store_->FindJobByRequestId(caller.tenant, request.request_id()));
    if (existing.has_value()) return JobToProto(*existing);
  }
  if (policy_) QUANTD_RETURN_IF_ERROR(policy_(caller.tenant, request.spec()));
  const ValidationContext context{&roots_, blob_path_, clock_->NowMillis(),
                                  inspect_};
  QUANTD_ASSIGN_OR_RETURN(ValidatedSpec validated,
                          ValidateSpec(request.spec(), context));
  QUANTD_ASSIGN_OR_RETURN(store::JobRecord job,
                          BuildJob(caller, request, std::move(validated)));
  QUANTD_RETURN_IF_ERROR(CheckPlaceable(job));
  if (request.validate_only()) {
    quantd::v1::Job view = JobToProto(job);
    view.clear_state();
    view.clear_last_sequence();
    return view;
  }
  job.id = ids_.NewJobId();
  QUANTD_ASSIGN_OR_RETURN(
      store::CreateOutcome outcome,
      store_->CreateJob(
          job,
          {StateChangePayload(store::JobState::kUnspecified,
                              store::JobState::kQueued, "submitted", 1)},
          job.create_time_ms, options_.max_queued_per_tenant));
  if (outcome.created) {
    quantd::v1::JobSpec spec;
    spec.ParseFromString(outcome.committed.job.spec);
    if (metrics_) metrics_->JobSubmitted(spec.method(), WeightBitsLabel(spec));
    log_->info("job={} tenant={} method={} submitted", job.id, job.tenant,
               job.method);
    AfterCommit(outcome.committed);
  }
  return JobToProto(outcome.committed.job);
}

absl::StatusOr<quantd::v1::Job> Scheduler::Get(const Caller& caller,
                                               const std::string& id) {
  QUANTD_ASSIGN_OR_RETURN(store::JobRecord job, LoadVisible(caller, id));
  return JobToProto(job);
}

absl::StatusOr<quantd::v1::ListJobsResponse> Scheduler::List(
    const Caller& caller, const quantd::v1::ListJobsRequest& request) {
  store::JobQuery query;
  query.tenant = request.tenant().empty() ? caller.tenant : request.tenant();
  if (query.tenant != caller.tenant && !IsAdmin(caller)) {
    return absl::PermissionDeniedError(
        "tenant: only admin tenants may list another tenant's jobs");
  }
  const std::string order = Lower(request.order_by());
  if (!order.empty() && order != "create_time desc" &&
      order != "create_time asc") {
    return InvalidFieldError(
        "order_by", "must be \"create_time desc\" or \"create_time asc\"");
  }
  query.ascending = order == "create_time asc";
  if (request.page_size() > kMaxPageSize) {
    return InvalidFieldError("page_size", "must be in 1..1000");
  }
  const uint32_t page_size =
      request.page_size() ? request.page_size() : kDefaultPageSize;
  if (!request.page_token().empty()) {
    QUANTD_RETURN_IF_ERROR(DecodePageToken(request.page_token(),
                                           query.ascending, &query.after_id));
  }
  for (int state : request.states()) {
    if (state <= 0 || !quantd::v1::JobState_IsValid(state)) {
      return InvalidFieldError("states", absl::StrCat("unknown state ", state));
    }
    query.states.push_back(static_cast<store::JobState>(state));
  }
  query.labels.insert(request.labels().begin(), request.labels().end());
  query.limit = page_size + 1;
  QUANTD_ASSIGN_OR_RETURN(std::vector<store::JobRecord> jobs,
                          store_->ListJobs(query));
  quantd::v1::ListJobsResponse response;
  const bool more = jobs.size() > page_size;
  if (more) jobs.resize(page_size);
  for (const store::JobRecord& job : jobs) {
    *response.add_jobs() = JobToProto(job);
  }
  if (more) {
    response.set_next_page_token(
        EncodePageToken(query.ascending, jobs.back().id));
  }
  return response;
}

absl::StatusOr<quantd::v1::Job> Scheduler::Cancel(
    const Caller& caller, const quantd::v1::CancelJobRequest& request) {
  QUANTD_RETURN_IF_ERROR(LoadVisible(caller, request.id()).status());
  const int64_t now = clock_->NowMillis();
  const int64_t grace_ms = Millis(options_.cancel_grace_seconds);
  QUANTD_ASSIGN_OR_RETURN(
      store::Committed committed,
      store_->UpdateJob(request.id(), [&](store::JobRecord& job) {
        return internal::RequestCancel(job, request.reason(), now, grace_ms);
      }));
  log_->info("job={} cancel requested state={}", request.id(),
             store::JobStateName(committed.job.state));
  AfterCommit(committed);
  return JobToProto(committed.job);
}

absl::StatusOr<EventBatch> Scheduler::ReadEvents(const std::string& id,
                                                 uint64_t after_sequence,
                                                 uint32_t limit) {
  QUANTD_ASSIGN_OR_RETURN(std::vector<store::EventRecord> records,
                          store_->ListEvents(id, after_sequence, limit));
  EventBatch batch;
  for (const store::EventRecord& record : records) {
    batch.events.push_back(EventToProto(record));
  }
  batch.last_sequence =
      records.empty() ? after_sequence : records.back().sequence;
  return batch;
}

absl::StatusOr<std::vector<quantd::v1::Artifact>> Scheduler::ListArtifacts(
    const Caller& caller, const std::string& job_id) {
  QUANTD_RETURN_IF_ERROR(LoadVisible(caller, job_id).status());
  QUANTD_ASSIGN_OR_RETURN(std::vector<store::ArtifactRecord> records,
                          store_->ListArtifacts(job_id));
  std::vector<quantd::v1::Artifact> artifacts;
  for (const auto& record : records)
    artifacts.push_back(ArtifactToProto(record));
  return artifacts;
}

void Scheduler::AfterCommit(const store::Committed& committed) {
  if (committed.events.empty()) return;
  std::vector<quantd::v1::JobEvent> events;
  bool queued = false;
  for (const store::EventRecord& record : committed.events) {
    events.push_back(EventToProto(record));
    const quantd::v1::JobEvent& event = events.back();
    if (event.has_state_change() &&
        event.state_change().to() == quantd::v1::JOB_STATE_QUEUED) {
      queued = true;
    }
    if (event.has_terminal() && metrics_ != nullptr) {
      const store::JobRecord& job = committed.job;
      quantd::v1::JobSpec spec;
      spec.ParseFromString(job.spec);
      metrics_->JobFinished(spec.method(), WeightBitsLabel(spec),
                            Lower(store::JobStateName(job.state)));
      const quantd::v1::JobResult& result = event.terminal().result();
      if (job.state == store::JobState::kSucceeded && result.fp_value() > 0) {
        metrics_->ObserveMetricRatio(
            spec.method(), result.metric(),
            result.quantized_value() / result.fp_value());
      }
      if (job.start_time_ms > 0) {
        metrics_->ObserveJobDuration(
            static_cast<double>(job.end_time_ms - job.start_time_ms) / 1000);
      }
    }
  }
  if (listener_ == nullptr) return;
  listener_->OnJobEvents(committed.job.id, events);
  if (queued) listener_->OnQueueChanged();
}

void Scheduler::Tick() {
  const int64_t now = clock_->NowMillis();
  auto due = store_->ListDueJobs(now);
  if (!due.ok()) {
    log_->warn("tick: cannot list due jobs: {}", due.status().ToString());
    return;
  }
  const internal::DueOptions options{Millis(options_.cancel_grace_seconds),
                                     Millis(options_.backoff_base_seconds),
                                     Millis(options_.backoff_max_seconds)};
  for (const std::string& id : *due) {
    internal::DueAction action = internal::DueAction::kNone;
    auto committed = store_->UpdateJob(id, [&](store::JobRecord& job) {
      return internal::ApplyDue(job, now, options, action);
    });
    if (!committed.ok()) {
      if (!absl::IsAborted(committed.status())) {
        log_->warn("job={} tick failed: {}", id, committed.status().ToString());
      }
      continue;
    }
    if (action == internal::DueAction::kLeaseExpiredRequeued ||
        action == internal::DueAction::kLeaseExpiredFailed ||
        action == internal::DueAction::kLeaseExpiredCancelled) {
      if (metrics_) metrics_->LeaseExpired();
      log_->warn("job={} lease expired; now {} attempt={}", id,
                 store::JobStateName(committed->job.state),
                 committed->job.attempt);
    }
    AfterCommit(*committed);
  }
  RefreshGauges();
}

void Scheduler::RefreshGauges() {
  auto depth = store_->CountQueuedByPriority();
  if (depth.ok() && metrics_) metrics_->SetQueueDepth(*depth);
  auto workers = store_->ListWorkers();
  if (workers.ok() && metrics_) {
    const int64_t since =
        clock_->NowMillis() - Millis(options_.lease_timeout_seconds);
    metrics_->SetWorkersConnected(std::count_if(
        workers->begin(), workers->end(),
        [since](const auto& worker) { return worker.last_seen_ms >= since; }));
  }
  // Jobs whose backoff ended are claimable without any new event.
  if (depth.ok() && !depth->empty() && listener_) listener_->OnQueueChanged();
}

}  // namespace quantd::scheduler
