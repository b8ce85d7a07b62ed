// SqlStoreCore: the JobStore written once in SQL, for every SQL backend.
// A backend (SqliteJobStore, PostgresJobStore) derives from it and hands
// it a connection (how to reach the database, bind values and map errors)
// and a dialect (the few places where its SQL differs); the transactions,
// event sequence numbers, idempotency keys, claims and queries live here.
//
// Ownership: owns the connection and the dialect.
// Thread-safety: safe from any thread; calls are serialised on the one
// connection (SQLite has a single writer anyway; PostgreSQL deployments run
// more replicas for more throughput).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/store/job_store.h"
#include "server/store/sql_connection.h"
#include "server/store/sql_dialect.h"

namespace quantd::store {

class SqlStoreCore : public JobStore {
 public:
  ~SqlStoreCore() override;

  absl::StatusOr<CreateOutcome> CreateJob(
      JobRecord job, std::vector<std::string> events, int64_t event_time_ms,
      uint32_t max_queued_for_tenant) override;
  absl::StatusOr<JobRecord> GetJob(const std::string& id) override;
  absl::StatusOr<std::optional<JobRecord>> FindJobByRequestId(
      const std::string& tenant, const std::string& request_id) override;
  absl::StatusOr<std::vector<JobRecord>> ListJobs(
      const JobQuery& query) override;
  absl::StatusOr<Committed> UpdateJob(const std::string& id,
                                      const Mutator& mutator) override;
  absl::StatusOr<std::optional<Committed>> ClaimJob(
      const ClaimFilter& filter, const Mutator& mutator) override;
  absl::StatusOr<std::vector<std::string>> ListDueJobs(int64_t now_ms) override;
  absl::StatusOr<std::vector<JobRecord>> ListHeldJobs(
      const std::string& worker_id) override;
  absl::StatusOr<std::map<int32_t, int64_t>> CountQueuedByPriority() override;
  absl::StatusOr<std::vector<EventRecord>> ListEvents(const std::string& job_id,
                                                      uint64_t after_sequence,
                                                      uint32_t limit) override;
  absl::StatusOr<std::vector<ArtifactRecord>> ListArtifacts(
      const std::string& job_id) override;
  absl::Status UpsertWorker(const WorkerRecord& worker) override;
  absl::Status TouchWorker(const std::string& id, int64_t now_ms) override;
  absl::StatusOr<std::vector<WorkerRecord>> ListWorkers() override;
  absl::Status PutBlob(const BlobRecord& blob) override;
  absl::StatusOr<std::optional<BlobRecord>> GetBlob(
      const std::string& blob) override;
  absl::StatusOr<std::set<std::string>> ListReferencedBlobs() override;
  absl::Status DeleteBlob(const std::string& blob) override;
  absl::Status Ping() override;

 protected:
  SqlStoreCore(std::unique_ptr<internal::SqlConnection> conn,
               std::unique_ptr<const internal::SqlDialect> dialect);

 private:
  // Runs `sql` (parameters written $1, $2, ...) in the backend's dialect;
  // returns the rows it changed.
  absl::StatusOr<int64_t> ExecuteLocked(
      const std::string& sql, const internal::SqlParams& params = {},
      const internal::RowCallback& on_row = nullptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // ExecuteLocked() for a SELECT, and for a statement whose count of
  // changed rows does not matter.
  absl::Status QueryLocked(const std::string& sql,
                           const internal::SqlParams& params,
                           const internal::RowCallback& on_row)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RunLocked(const std::string& sql,
                         const internal::SqlParams& params = {})
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs a SELECT of the job columns and reads every row as a job, labels
  // included.
  absl::StatusOr<std::vector<JobRecord>> QueryJobsLocked(
      const std::string& sql, const internal::SqlParams& params)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The first job `where` selects, or nullopt.
  absl::StatusOr<std::optional<JobRecord>> ReadJobLocked(
      const std::string& where, const internal::SqlParams& params)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<int64_t> CountLocked(const std::string& sql,
                                      const internal::SqlParams& params)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Inserts a new job with its events, labels and inputs; the caller holds
  // the transaction and checked the idempotency key.
  absl::StatusOr<Committed> InsertLocked(JobRecord job,
                                         const std::vector<std::string>& events,
                                         int64_t event_time_ms,
                                         uint32_t max_queued_for_tenant)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteJobLocked(const JobRecord& job, bool insert)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Numbers the events from job.last_sequence + 1 and advances it.
  absl::StatusOr<std::vector<EventRecord>> AppendEventsLocked(
      JobRecord& job, const std::vector<std::string>& payloads, int64_t time_ms)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies `mutator` to `job` and writes the result; the caller holds the
  // transaction and the row.
  absl::StatusOr<Committed> ApplyLocked(JobRecord job, const Mutator& mutator)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The first QUEUED job `filter` admits, read for the claim.
  absl::StatusOr<std::optional<JobRecord>> PickClaimableLocked(
      const ClaimFilter& filter) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::unique_ptr<const internal::SqlDialect> dialect_;
  absl::Mutex mu_;
  std::unique_ptr<internal::SqlConnection> conn_ ABSL_GUARDED_BY(mu_);
};

}  // namespace quantd::store
