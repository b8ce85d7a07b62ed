// JobStore: the durable state of the scheduler (jobs, their event logs,
// artifacts, workers, blobs and idempotency keys) behind one interface, so
// the scheduler runs unchanged on SQLite (embedded default) or PostgreSQL
// (several scheduler replicas; claims use FOR UPDATE SKIP LOCKED).
//
// Every state change is one transaction. A change to a job is expressed as
// a Mutator that the store calls inside the transaction with the current
// row; the mutator edits the row and returns the events to append (and
// artifacts to attach). The store assigns the events' sequence numbers, so
// they grow by exactly one per job with no gaps. A mutator may be called
// more than once when a backend retries a transaction, so it must depend
// only on its arguments.
//
// Thread-safety: implementations are safe to call from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/store/records.h"

namespace quantd::store {

// What a mutator asks for besides the edited row.
struct JobUpdate {
  // Event bodies to append, in order; each gets the next sequence number.
  std::vector<std::string> events;
  int64_t event_time_ms = 0;
  // Artifacts to attach (a name already present is replaced).
  std::vector<ArtifactRecord> artifacts;
};

// Edits `job` in place and returns what else to write, or an error that
// aborts the transaction (nothing is written).
using Mutator = std::function<absl::StatusOr<JobUpdate>(JobRecord& job)>;

// The result of a committed change: the row as written and the events
// appended, with their sequence numbers.
struct Committed {
  JobRecord job;
  std::vector<EventRecord> events;
};

struct CreateOutcome {
  Committed committed;
  // false: the (tenant, request_id) already existed and `committed.job` is
  // that earlier job, unchanged (no events in `committed.events`).
  bool created = false;
};

// Which queued jobs a worker may claim.
struct ClaimFilter {
  std::string worker_id;
  int64_t now_ms = 0;
  // Device kinds the worker offers; a job with device "" matches any.
  std::vector<std::string> device_kinds;
  uint64_t device_memory_bytes = 0;
  uint64_t host_memory_bytes = 0;
  // Methods the worker runs; empty = any.
  std::vector<std::string> methods;
  // The worker already holding this many jobs claims nothing.
  uint32_t max_jobs_for_worker = 1;
  // Tenants holding this many LEASED/RUNNING jobs are skipped; 0 = no limit.
  uint32_t max_running_per_tenant = 0;
};

struct JobQuery {
  // Exact tenant; empty = every tenant.
  std::string tenant;
  std::vector<JobState> states;
  // All must match.
  std::map<std::string, std::string> labels;
  // Cursor: only ids after it in the chosen order (exclusive); empty = start.
  std::string after_id;
  bool ascending = false;
  uint32_t limit = 100;
};

class JobStore {
 public:
  virtual ~JobStore() = default;

  // Inserts `job` with `events` unless the tenant already used
  // job.request_id, in which case the earlier job is returned. When
  // `max_queued_for_tenant` > 0 and the tenant already has that many QUEUED
  // jobs, fails with ResourceExhausted.
  [[nodiscard]] virtual absl::StatusOr<CreateOutcome> CreateJob(
      JobRecord job, std::vector<std::string> events, int64_t event_time_ms,
      uint32_t max_queued_for_tenant) = 0;

  // NotFound for an unknown id.
  [[nodiscard]] virtual absl::StatusOr<JobRecord> GetJob(
      const std::string& id) = 0;
  // The tenant's job with this idempotency key, if any.
  [[nodiscard]] virtual absl::StatusOr<std::optional<JobRecord>>
  FindJobByRequestId(const std::string& tenant,
                     const std::string& request_id) = 0;
  [[nodiscard]] virtual absl::StatusOr<std::vector<JobRecord>> ListJobs(
      const JobQuery& query) = 0;

  // Reads the row, applies `mutator` and writes the row, events and
  // artifacts in one transaction. NotFound for an unknown id; the mutator's
  // error otherwise.
  [[nodiscard]] virtual absl::StatusOr<Committed> UpdateJob(
      const std::string& id, const Mutator& mutator) = 0;

  // Picks the first QUEUED job the filter admits (highest priority, then
  // oldest id, not_before_ms <= now) and applies `mutator` to it in the same
  // transaction. nullopt when none qualifies.
  [[nodiscard]] virtual absl::StatusOr<std::optional<Committed>> ClaimJob(
      const ClaimFilter& filter, const Mutator& mutator) = 0;

  // Ids of non-terminal jobs that need the scheduler: a held lease expired
  // (lease_expiry_ms <= now), a cancel's grace period ended, or a deadline
  // passed.
  [[nodiscard]] virtual absl::StatusOr<std::vector<std::string>> ListDueJobs(
      int64_t now_ms) = 0;
  // Jobs held (LEASED or RUNNING) by `worker_id`.
  [[nodiscard]] virtual absl::StatusOr<std::vector<JobRecord>> ListHeldJobs(
      const std::string& worker_id) = 0;
  // QUEUED jobs by priority.
  [[nodiscard]] virtual absl::StatusOr<std::map<int32_t, int64_t>>
  CountQueuedByPriority() = 0;

  // Events with sequence > after_sequence, oldest first, at most `limit`.
  [[nodiscard]] virtual absl::StatusOr<std::vector<EventRecord>> ListEvents(
      const std::string& job_id, uint64_t after_sequence, uint32_t limit) = 0;

  [[nodiscard]] virtual absl::StatusOr<std::vector<ArtifactRecord>>
  ListArtifacts(const std::string& job_id) = 0;

  // Inserts or replaces a worker (re-registration).
  [[nodiscard]] virtual absl::Status UpsertWorker(
      const WorkerRecord& worker) = 0;
  // Sets last_seen_ms; NotFound for an unknown worker.
  [[nodiscard]] virtual absl::Status TouchWorker(const std::string& id,
                                                 int64_t now_ms) = 0;
  [[nodiscard]] virtual absl::StatusOr<std::vector<WorkerRecord>>
  ListWorkers() = 0;

  // Records an uploaded blob (idempotent).
  [[nodiscard]] virtual absl::Status PutBlob(const BlobRecord& blob) = 0;
  [[nodiscard]] virtual absl::StatusOr<std::optional<BlobRecord>> GetBlob(
      const std::string& blob) = 0;
  // Hex digests referenced by any job, as an input or an artifact.
  [[nodiscard]] virtual absl::StatusOr<std::set<std::string>>
  ListReferencedBlobs() = 0;
  [[nodiscard]] virtual absl::Status DeleteBlob(const std::string& blob) = 0;

  // A cheap round trip, for health checks.
  [[nodiscard]] virtual absl::Status Ping() = 0;
};

}  // namespace quantd::store
