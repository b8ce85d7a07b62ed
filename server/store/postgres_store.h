// The PostgreSQL JobStore, for several scheduler replicas sharing one
// database: claims take the row with FOR UPDATE SKIP LOCKED so replicas
// never hand out the same job, changes to a job lock its row, and a
// tenant's queue limit is checked under a per-tenant advisory lock.
//
// Thread-safety: safe from any thread; calls are serialised on one
// connection per store (run more replicas for more throughput).
#pragma once

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/store/job_store.h"
#include "server/store/postgres_db.h"

namespace quantd::store {

class PostgresJobStore : public JobStore {
 public:
  // Connects with the libpq connection string `dsn` and migrates the schema.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<PostgresJobStore>> Open(
      const std::string& dsn);

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

 private:
  explicit PostgresJobStore(std::unique_ptr<internal::PgConnection> conn)
      : conn_(std::move(conn)) {}

  // Runs `sql` and reads every row as a job (labels included).
  absl::StatusOr<std::vector<JobRecord>> QueryJobsLocked(
      const std::string& sql, const internal::PgParams& params)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteJobLocked(const JobRecord& job, bool insert)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::vector<EventRecord>> AppendEventsLocked(
      JobRecord& job, const std::vector<std::string>& payloads, int64_t time_ms)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Committed> ApplyLocked(JobRecord job, const Mutator& mutator)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::optional<CreateOutcome>> InsertLocked(
      JobRecord& job, const std::vector<std::string>& events,
      int64_t event_time_ms, uint32_t max_queued_for_tenant)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::unique_ptr<internal::PgConnection> conn_ ABSL_GUARDED_BY(mu_);
};

}  // namespace quantd::store
