// Scheduler: the domain core of quantd. It validates and queues jobs, places
// them on workers by a pre-flight memory estimate, grants and renews leases
// under fencing tokens, requeues jobs whose lease expired (with backoff and
// a maximum number of attempts), carries cancels to workers, and records
// every change as an event in the JobStore. The api/ layer only validates
// RPC shapes, calls one method here and maps the result.
//
// All durable state lives in the store (so several schedulers can share a
// PostgreSQL store); the scheduler caches only worker capabilities.
//
// Ownership: the store, clock, metrics and listener are borrowed and must
// outlive the scheduler. Thread-safety: every method is safe from any
// thread. Start() runs Tick() on a background thread until Stop().
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/ids.h"
#include "quantd/v1/jobs.pb.h"
#include "quantd/v1/worker.pb.h"
#include "server/metrics/server_metrics.h"
#include "server/scheduler/clock.h"
#include "server/scheduler/model_inspector.h"
#include "server/scheduler/scheduler_listener.h"
#include "server/scheduler/spec_validator.h"
#include "server/store/job_store.h"
#include "spdlog/logger.h"

namespace quantd::scheduler {

struct SchedulerOptions {
  // Heartbeat interval told to workers, seconds. Default 5.
  double heartbeat_interval_seconds = 5;
  // A lease expires after this long without a heartbeat. Default 30.
  double lease_timeout_seconds = 30;
  // A held job asked to cancel is forced to CANCELLED after this. Default 30.
  double cancel_grace_seconds = 30;
  // Requeue backoff: base * 2^(attempt - 2), capped. Defaults 2 s and 300 s.
  double backoff_base_seconds = 2;
  double backoff_max_seconds = 300;
  // How often Tick() runs on the background thread. Default 1.
  double tick_interval_seconds = 1;
  // Per-tenant limits; 0 = none. Defaults 10000 queued, 0 running.
  uint32_t max_queued_per_tenant = 10000;
  uint32_t max_running_per_tenant = 0;
  // Queue a job that no registered worker could run instead of rejecting it
  // with RESOURCE_EXHAUSTED. Default false.
  bool queue_unplaceable = false;
  // Tenants that may list other tenants' jobs and read their jobs.
  std::vector<std::string> admin_tenants;
};

// Who is calling: the tenant from the request's metadata.
struct Caller {
  std::string tenant = "default";
};

// A batch of a job's events read for a watcher.
struct EventBatch {
  std::vector<quantd::v1::JobEvent> events;
  // The job's newest sequence number when read.
  uint64_t last_sequence = 0;
};

class Scheduler {
 public:
  Scheduler(store::JobStore* store, const Clock* clock,
            SchedulerOptions options, AllowedRoots roots,
            metrics::ServerMetrics* metrics,
            std::shared_ptr<spdlog::logger> log);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Set before Start(); borrowed.
  void SetListener(SchedulerListener* listener) { listener_ = listener; }
  // Where uploaded blobs live, for models and datasets given as blobs.
  void SetBlobPathLookup(
      std::function<std::optional<std::string>(const std::string&)> lookup) {
    blob_path_ = std::move(lookup);
  }
  // The tenancy rules for a new job of `tenant` (server/tenancy/): OK or the
  // error to answer. Submit() applies them after its replay lookup, so a
  // replayed request gets its job whatever changed since. Unset: none. Set
  // this and the inspector before the server starts.
  using SubmitPolicy = std::function<absl::Status(
      const std::string& tenant, const quantd::v1::JobSpec& spec)>;
  void SetSubmitPolicy(SubmitPolicy policy) { policy_ = std::move(policy); }
  // Replaces InspectModel at submit (tests inject slow or failing reads).
  void SetModelInspector(ModelInspector inspect) {
    inspect_ = std::move(inspect);
  }
  void Start();
  void Stop();

  // --- JobService ---
  [[nodiscard]] absl::StatusOr<quantd::v1::Job> Submit(
      const Caller& caller, const quantd::v1::SubmitJobRequest& request);
  [[nodiscard]] absl::StatusOr<quantd::v1::Job> Get(const Caller& caller,
                                                    const std::string& id);
  [[nodiscard]] absl::StatusOr<quantd::v1::ListJobsResponse> List(
      const Caller& caller, const quantd::v1::ListJobsRequest& request);
  [[nodiscard]] absl::StatusOr<quantd::v1::Job> Cancel(
      const Caller& caller, const quantd::v1::CancelJobRequest& request);
  // Events after `after_sequence`, at most `limit`; the caller checked
  // access with Get().
  [[nodiscard]] absl::StatusOr<EventBatch> ReadEvents(const std::string& id,
                                                      uint64_t after_sequence,
                                                      uint32_t limit);
  [[nodiscard]] absl::StatusOr<std::vector<quantd::v1::Artifact>> ListArtifacts(
      const Caller& caller, const std::string& job_id);

  // --- WorkerGateway ---
  [[nodiscard]] absl::StatusOr<quantd::v1::RegisterWorkerResponse>
  RegisterWorker(const quantd::v1::RegisterWorkerRequest& request);
  // Registered workers with their leases; lost ones (no call within the
  // lease timeout) only with `include_lost`.
  [[nodiscard]] absl::StatusOr<std::vector<quantd::v1::WorkerInfo>> ListWorkers(
      bool include_lost);
  // A lease on the best job `worker_id` can run now, or nullopt.
  [[nodiscard]] absl::StatusOr<std::optional<quantd::v1::Lease>> TryLease(
      const std::string& worker_id);
  [[nodiscard]] absl::StatusOr<quantd::v1::HeartbeatResponse> Heartbeat(
      const quantd::v1::HeartbeatRequest& request);
  [[nodiscard]] absl::StatusOr<uint64_t> ReportEvents(
      const quantd::v1::ReportEventsRequest& request);
  // FailedPrecondition unless the lease is current.
  [[nodiscard]] absl::Status CheckLease(const std::string& job_id,
                                        uint64_t fencing_token);
  // Attaches a verified, stored blob to the job as an artifact.
  [[nodiscard]] absl::StatusOr<quantd::v1::Artifact> AttachArtifact(
      const std::string& job_id, uint64_t fencing_token,
      const quantd::v1::Artifact& artifact);
  [[nodiscard]] absl::StatusOr<quantd::v1::Job> Complete(
      const quantd::v1::CompleteJobRequest& request);
  // InvalidArgument naming the artifact.* field at fault.
  [[nodiscard]] static absl::Status CheckArtifact(
      const quantd::v1::Artifact& artifact);

  // --- Blobs ---
  // Records an uploaded blob (hex digest) so it is known and kept.
  [[nodiscard]] absl::Status RecordBlob(const std::string& hex,
                                        uint64_t size_bytes,
                                        const std::string& kind);
  // Hex digests any job refers to (inputs and artifacts).
  [[nodiscard]] absl::StatusOr<std::set<std::string>> ReferencedBlobs();
  // A round trip to the store, for health checks.
  [[nodiscard]] absl::Status CheckStore();

  // Expires leases, forces overdue cancels, applies deadlines and refreshes
  // the gauges. Runs on the background thread; tests call it directly.
  void Tick();

  const SchedulerOptions& options() const { return options_; }

 private:
  bool IsAdmin(const Caller& caller) const;
  // NotFound unless the caller may see the job.
  absl::StatusOr<store::JobRecord> LoadVisible(const Caller& caller,
                                               const std::string& id);
  absl::Status CheckPlaceable(const store::JobRecord& job);
  absl::StatusOr<store::JobRecord> BuildJob(
      const Caller& caller, const quantd::v1::SubmitJobRequest& request,
      ValidatedSpec validated);
  absl::StatusOr<store::WorkerRecord> FindWorker(const std::string& worker_id);
  // Publishes committed events, updates metrics, wakes lease waiters.
  void AfterCommit(const store::Committed& committed);
  void RefreshGauges();
  int64_t Millis(double seconds) const;

  store::JobStore* store_;
  const Clock* clock_;
  const SchedulerOptions options_;
  const AllowedRoots roots_;
  metrics::ServerMetrics* metrics_;
  std::shared_ptr<spdlog::logger> log_;
  SchedulerListener* listener_ = nullptr;
  std::function<std::optional<std::string>(const std::string&)> blob_path_;
  SubmitPolicy policy_;
  ModelInspector inspect_ = InspectModel;
  IdGenerator ids_;

  absl::Mutex mu_;
  std::map<std::string, store::WorkerRecord> workers_ ABSL_GUARDED_BY(mu_);

  std::unique_ptr<absl::Notification> stop_;
  std::thread ticker_;
};

}  // namespace quantd::scheduler
