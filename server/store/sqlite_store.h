// The embedded JobStore: one SQLite file in WAL mode under the data
// directory. Every state change is a BEGIN IMMEDIATE transaction, so a
// killed process leaves either the whole change or none of it.
//
// Thread-safety: safe from any thread; calls are serialised on one
// connection (SQLite has a single writer anyway).
#pragma once

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/store/job_store.h"
#include "server/store/sqlite_db.h"

namespace quantd::store {

struct SqliteOptions {
  // Database file; created with its schema when missing.
  std::string path;
  // PRAGMA synchronous: true = FULL (a commit survives power loss), false =
  // NORMAL (survives a process crash, may lose the last commits on power
  // loss). Default true.
  bool synchronous_full = true;
};

class SqliteJobStore : public JobStore {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<SqliteJobStore>> Open(
      const SqliteOptions& options);

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
  // Also fails when the database file is no longer at its path (an open
  // connection would keep working on the unlinked file and lose it all at
  // the next restart).
  absl::Status Ping() override;

 private:
  SqliteJobStore(std::unique_ptr<internal::SqliteDb> db, std::string path)
      : path_(std::move(path)), db_(std::move(db)) {}

  absl::StatusOr<std::optional<JobRecord>> ReadJobLocked(
      const std::string& where, const std::string& a, const std::string& b)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::vector<JobRecord>> QueryJobsLocked(
      internal::SqliteStatement& select) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status LoadLabelsLocked(JobRecord& job)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteJobLocked(const JobRecord& job, bool insert)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::vector<EventRecord>> AppendEventsLocked(
      JobRecord& job, const std::vector<std::string>& payloads, int64_t time_ms)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteArtifactLocked(const ArtifactRecord& artifact)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies `mutator` to `job` and writes the result; the caller holds the
  // transaction.
  absl::StatusOr<Committed> ApplyLocked(JobRecord job, const Mutator& mutator)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::optional<std::string>> PickClaimableLocked(
      const ClaimFilter& filter) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<int64_t> CountLocked(const std::string& sql,
                                      const std::string& a, int64_t b)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  absl::Mutex mu_;
  std::unique_ptr<internal::SqliteDb> db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace quantd::store
