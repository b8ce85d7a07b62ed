#include "server/store/sql_store_core.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "server/store/sql_rows.h"

namespace quantd::store {
namespace {

using internal::CommaList;
using internal::FromColumn;
using internal::Markers;
using internal::SqlParams;
using internal::SqlRow;
using internal::ToColumn;

absl::Status JobNotFound(const std::string& id) {
  return absl::NotFoundError(absl::StrCat("job ", id, " not found"));
}

// Begin() opens the dialect's transaction; ROLLBACK on destruction unless
// Commit() succeeded. Used inside one store call, under the store's mutex.
class Transaction {
 public:
  Transaction(internal::SqlConnection& conn,
              const internal::SqlDialect& dialect)
      : conn_(conn), dialect_(dialect) {}
  ~Transaction() {
    if (open_) Run("ROLLBACK").IgnoreError();
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  [[nodiscard]] absl::Status Begin() {
    absl::Status status = Run(std::string(dialect_.BeginTransaction()));
    open_ = status.ok();
    return status;
  }
  [[nodiscard]] absl::Status Commit() {
    absl::Status status = Run("COMMIT");
    if (status.ok()) open_ = false;
    return status;
  }

 private:
  absl::Status Run(const std::string& sql) {
    return conn_.Execute(sql, {}, nullptr).status();
  }

  internal::SqlConnection& conn_;
  const internal::SqlDialect& dialect_;
  bool open_ = false;
};

}  // namespace

SqlStoreCore::SqlStoreCore(std::unique_ptr<internal::SqlConnection> conn,
                           std::unique_ptr<const internal::SqlDialect> dialect)
    : dialect_(std::move(dialect)), conn_(std::move(conn)) {}

SqlStoreCore::~SqlStoreCore() = default;

absl::StatusOr<int64_t> SqlStoreCore::ExecuteLocked(
    const std::string& sql, const SqlParams& params,
    const internal::RowCallback& on_row) {
  return conn_->Execute(dialect_->BindMarkers(sql), params, on_row);
}

absl::Status SqlStoreCore::QueryLocked(const std::string& sql,
                                       const SqlParams& params,
                                       const internal::RowCallback& on_row) {
  return ExecuteLocked(sql, params, on_row).status();
}

absl::Status SqlStoreCore::RunLocked(const std::string& sql,
                                     const SqlParams& params) {
  return ExecuteLocked(sql, params).status();
}

absl::StatusOr<std::vector<JobRecord>> SqlStoreCore::QueryJobsLocked(
    const std::string& sql, const SqlParams& params) {
  std::vector<JobRecord> jobs;
  QUANTD_RETURN_IF_ERROR(QueryLocked(sql, params, [&](const SqlRow& row) {
    jobs.push_back(internal::JobFromRow(row));
  }));
  for (JobRecord& job : jobs) {
    QUANTD_RETURN_IF_ERROR(QueryLocked(
        "SELECT key, value FROM job_labels WHERE job_id = $1",
        SqlParams().Add(job.id),
        [&](const SqlRow& row) { job.labels[row.Text(0)] = row.Text(1); }));
  }
  return jobs;
}

absl::StatusOr<std::optional<JobRecord>> SqlStoreCore::ReadJobLocked(
    const std::string& where, const SqlParams& params) {
  QUANTD_ASSIGN_OR_RETURN(
      std::vector<JobRecord> jobs,
      QueryJobsLocked(absl::StrCat("SELECT ", internal::kJobColumns,
                                   " FROM jobs WHERE ", where),
                      params));
  if (jobs.empty()) return std::nullopt;
  return std::move(jobs.front());
}

absl::StatusOr<int64_t> SqlStoreCore::CountLocked(const std::string& sql,
                                                  const SqlParams& params) {
  int64_t count = 0;
  QUANTD_RETURN_IF_ERROR(
      QueryLocked(sql, params, [&](const SqlRow& row) { count = row.Int(0); }));
  return count;
}

absl::Status SqlStoreCore::WriteJobLocked(const JobRecord& job, bool insert) {
  return RunLocked(insert ? internal::InsertJobSql() : internal::UpdateJobSql(),
                   internal::JobParams(job));
}

absl::StatusOr<std::vector<EventRecord>> SqlStoreCore::AppendEventsLocked(
    JobRecord& job, const std::vector<std::string>& payloads, int64_t time_ms) {
  std::vector<EventRecord> events;
  for (const std::string& payload : payloads) {
    EventRecord event{job.id, job.last_sequence + 1, time_ms, payload};
    QUANTD_RETURN_IF_ERROR(
        RunLocked("INSERT INTO events (job_id, sequence, time_ms, "
                  "payload) VALUES ($1, $2, $3, $4)",
                  SqlParams()
                      .Add(event.job_id)
                      .Add(ToColumn(event.sequence))
                      .Add(time_ms)
                      .AddBytes(payload)));
    job.last_sequence = event.sequence;
    events.push_back(std::move(event));
  }
  return events;
}

absl::StatusOr<Committed> SqlStoreCore::InsertLocked(
    JobRecord job, const std::vector<std::string>& events,
    int64_t event_time_ms, uint32_t max_queued_for_tenant) {
  if (max_queued_for_tenant > 0) {
    QUANTD_ASSIGN_OR_RETURN(
        int64_t queued,
        CountLocked("SELECT COUNT(*) FROM jobs WHERE tenant = $1 AND state = 1",
                    SqlParams().Add(job.tenant)));
    if (queued >= max_queued_for_tenant) {
      return absl::ResourceExhaustedError(
          absl::StrCat("tenant \"", job.tenant, "\" has ", queued,
                       " queued jobs, the limit"));
    }
  }
  job.last_sequence = 0;
  Committed committed;
  QUANTD_ASSIGN_OR_RETURN(committed.events,
                          AppendEventsLocked(job, events, event_time_ms));
  QUANTD_RETURN_IF_ERROR(WriteJobLocked(job, /*insert=*/true));
  for (const auto& [key, value] : job.labels) {
    QUANTD_RETURN_IF_ERROR(
        RunLocked("INSERT INTO job_labels (job_id, key, value) VALUES "
                  "($1, $2, $3)",
                  SqlParams().Add(job.id).Add(key).Add(value)));
  }
  for (const std::string& blob : job.input_blobs) {
    QUANTD_RETURN_IF_ERROR(
        RunLocked("INSERT INTO job_inputs (job_id, blob) VALUES ($1, $2) "
                  "ON CONFLICT DO NOTHING",
                  SqlParams().Add(job.id).Add(blob)));
  }
  committed.job = std::move(job);
  return committed;
}

absl::StatusOr<CreateOutcome> SqlStoreCore::CreateJob(
    JobRecord job, std::vector<std::string> events, int64_t event_time_ms,
    uint32_t max_queued_for_tenant) {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->Ready());
  Transaction txn(*conn_, *dialect_);
  QUANTD_RETURN_IF_ERROR(txn.Begin());
  if (!dialect_->LockTenant().empty()) {
    QUANTD_RETURN_IF_ERROR(RunLocked(std::string(dialect_->LockTenant()),
                                     SqlParams().Add(job.tenant)));
  }
  QUANTD_ASSIGN_OR_RETURN(
      std::optional<JobRecord> existing,
      ReadJobLocked("tenant = $1 AND request_id = $2",
                    SqlParams().Add(job.tenant).Add(job.request_id)));
  if (existing.has_value()) {
    return CreateOutcome{Committed{std::move(*existing), {}}, false};
  }
  QUANTD_ASSIGN_OR_RETURN(Committed committed,
                          InsertLocked(std::move(job), events, event_time_ms,
                                       max_queued_for_tenant));
  QUANTD_RETURN_IF_ERROR(txn.Commit());
  return CreateOutcome{std::move(committed), true};
}

absl::StatusOr<JobRecord> SqlStoreCore::GetJob(const std::string& id) {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->Ready());
  QUANTD_ASSIGN_OR_RETURN(std::optional<JobRecord> job,
                          ReadJobLocked("id = $1", SqlParams().Add(id)));
  if (!job.has_value()) return JobNotFound(id);
  return std::move(*job);
}

absl::StatusOr<std::optional<JobRecord>> SqlStoreCore::FindJobByRequestId(
    const std::string& tenant, const std::string& request_id) {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->Ready());
  return ReadJobLocked("tenant = $1 AND request_id = $2",
                       SqlParams().Add(tenant).Add(request_id));
}

absl::StatusOr<std::vector<JobRecord>> SqlStoreCore::ListJobs(
    const JobQuery& query) {
  std::string sql =
      absl::StrCat("SELECT ", internal::kJobColumns, " FROM jobs WHERE TRUE");
  SqlParams params;
  if (!query.tenant.empty()) {
    params.Add(query.tenant);
    absl::StrAppend(&sql, " AND tenant = $", params.size());
  }
  if (!query.states.empty()) {
    absl::StrAppend(&sql, " AND state IN (",
                    Markers(params.size() + 1, query.states.size()), ")");
    for (JobState state : query.states) params.Add(static_cast<int64_t>(state));
  }
  for (const auto& [key, value] : query.labels) {
    params.Add(key).Add(value);
    absl::StrAppend(&sql,
                    " AND EXISTS (SELECT 1 FROM job_labels l WHERE l.job_id "
                    "= jobs.id AND l.key = $",
                    params.size() - 1, " AND l.value = $", params.size(), ")");
  }
  if (!query.after_id.empty()) {
    params.Add(query.after_id);
    absl::StrAppend(&sql, query.ascending ? " AND id > $" : " AND id < $",
                    params.size());
  }
  params.Add(query.limit);
  absl::StrAppend(&sql, " ORDER BY id ", query.ascending ? "ASC" : "DESC",
                  " LIMIT $", params.size());
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->Ready());
  return QueryJobsLocked(sql, params);
}

absl::StatusOr<Committed> SqlStoreCore::ApplyLocked(JobRecord job,
                                                    const Mutator& mutator) {
  const std::string id = job.id;
  const uint64_t last_sequence = job.last_sequence;
  QUANTD_ASSIGN_OR_RETURN(JobUpdate update, mutator(job));
  if (job.id != id) {
    return absl::InternalError("store: a mutator changed the job id");
  }
  job.last_sequence = last_sequence;
  Committed committed;
  QUANTD_ASSIGN_OR_RETURN(
      committed.events,
      AppendEventsLocked(job, update.events, update.event_time_ms));
  QUANTD_RETURN_IF_ERROR(WriteJobLocked(job, /*insert=*/false));
  for (const ArtifactRecord& artifact : update.artifacts) {
    QUANTD_RETURN_IF_ERROR(
        RunLocked("INSERT INTO artifacts (job_id, name, blob, size_bytes, "
                  "kind, create_time_ms) VALUES ($1, $2, $3, $4, $5, $6) "
                  "ON CONFLICT (job_id, name) DO UPDATE SET blob = $3, "
                  "size_bytes = $4, kind = $5, create_time_ms = $6",
                  SqlParams()
                      .Add(job.id)
                      .Add(artifact.name)
                      .Add(artifact.blob)
                      .Add(ToColumn(artifact.size_bytes))
                      .Add(artifact.kind)
                      .Add(artifact.create_time_ms)));
  }
  committed.job = std::move(job);
  return committed;
}

absl::StatusOr<Committed> SqlStoreCore::UpdateJob(const std::string& id,
                                                  const Mutator& mutator) {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->Ready());
  Transaction txn(*conn_, *dialect_);
  QUANTD_RETURN_IF_ERROR(txn.Begin());
  QUANTD_ASSIGN_OR_RETURN(
      std::optional<JobRecord> job,
      ReadJobLocked(absl::StrCat("id = $1", dialect_->LockRowForUpdate()),
                    SqlParams().Add(id)));
  if (!job.has_value()) return JobNotFound(id);
  QUANTD_ASSIGN_OR_RETURN(Committed committed,
                          ApplyLocked(std::move(*job), mutator));
  QUANTD_RETURN_IF_ERROR(txn.Commit());
  return committed;
}

absl::StatusOr<std::optional<JobRecord>> SqlStoreCore::PickClaimableLocked(
    const ClaimFilter& filter) {
  QUANTD_ASSIGN_OR_RETURN(
      int64_t held,
      CountLocked("SELECT COUNT(*) FROM jobs WHERE worker_id = $1 AND state "
                  "IN (2, 3)",
                  SqlParams().Add(filter.worker_id)));
  if (held >= filter.max_jobs_for_worker) return std::nullopt;
  std::string where = absl::StrCat(
      "state = 1 AND not_before_ms <= $1 AND (device = '' OR ",
      dialect_->ListContains("$2", "device"),
      ") AND device_memory_bytes <= $3 AND host_memory_bytes <= $4 AND ($5 = "
      "'' OR ",
      dialect_->ListContains("$5", "method"), ") ");
  SqlParams params;
  params.Add(filter.now_ms).Add(CommaList(filter.device_kinds));
  params.Add(ToColumn(filter.device_memory_bytes))
      .Add(ToColumn(filter.host_memory_bytes));
  params.Add(CommaList(filter.methods));
  if (filter.max_running_per_tenant > 0) {
    absl::StrAppend(&where,
                    "AND tenant NOT IN (SELECT tenant FROM jobs WHERE state "
                    "IN (2, 3) GROUP BY tenant HAVING COUNT(*) >= $6) ");
    params.Add(filter.max_running_per_tenant);
  }
  absl::StrAppend(&where, "ORDER BY priority DESC, id ASC LIMIT 1",
                  dialect_->LockRowForClaim());
  return ReadJobLocked(where, params);
}

absl::StatusOr<std::optional<Committed>> SqlStoreCore::ClaimJob(
    const ClaimFilter& filter, const Mutator& mutator) {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->Ready());
  Transaction txn(*conn_, *dialect_);
  QUANTD_RETURN_IF_ERROR(txn.Begin());
  QUANTD_ASSIGN_OR_RETURN(std::optional<JobRecord> job,
                          PickClaimableLocked(filter));
  if (!job.has_value()) return std::nullopt;
  QUANTD_ASSIGN_OR_RETURN(Committed committed,
                          ApplyLocked(std::move(*job), mutator));
  QUANTD_RETURN_IF_ERROR(txn.Commit());
  return committed;
}

absl::StatusOr<std::vector<std::string>> SqlStoreCore::ListDueJobs(
    int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->Ready());
  std::vector<std::string> ids;
  QUANTD_RETURN_IF_ERROR(QueryLocked(
      "SELECT id FROM jobs WHERE state IN (1, 2, 3) AND ("
      "(state IN (2, 3) AND lease_expiry_ms <= $1) OR "
      "(cancel_requested = 1 AND cancel_deadline_ms > 0 AND "
      "cancel_deadline_ms <= $1) OR "
      "(cancel_requested = 0 AND deadline_ms > 0 AND deadline_ms <= $1)) "
      "ORDER BY id",
      SqlParams().Add(now_ms),
      [&](const SqlRow& row) { ids.push_back(row.Text(0)); }));
  return ids;
}

absl::StatusOr<std::vector<JobRecord>> SqlStoreCore::ListHeldJobs(
    const std::string& worker_id) {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->Ready());
  return QueryJobsLocked(
      absl::StrCat("SELECT ", internal::kJobColumns,
                   " FROM jobs WHERE worker_id = $1 AND state IN (2, 3) "
                   "ORDER BY id"),
      SqlParams().Add(worker_id));
}

absl::StatusOr<std::map<int32_t, int64_t>>
SqlStoreCore::CountQueuedByPriority() {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->Ready());
  std::map<int32_t, int64_t> counts;
  QUANTD_RETURN_IF_ERROR(
      QueryLocked("SELECT priority, COUNT(*) FROM jobs WHERE state = 1 "
                  "GROUP BY priority",
                  {}, [&](const SqlRow& row) {
                    counts[static_cast<int32_t>(row.Int(0))] = row.Int(1);
                  }));
  return counts;
}

absl::StatusOr<std::vector<EventRecord>> SqlStoreCore::ListEvents(
    const std::string& job_id, uint64_t after_sequence, uint32_t limit) {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->Ready());
  std::vector<EventRecord> events;
  QUANTD_RETURN_IF_ERROR(QueryLocked(
      "SELECT sequence, time_ms, payload FROM events WHERE "
      "job_id = $1 AND sequence > $2 ORDER BY sequence LIMIT $3",
      SqlParams().Add(job_id).Add(ToColumn(after_sequence)).Add(limit),
      [&](const SqlRow& row) {
        events.push_back(EventRecord{job_id, FromColumn(row.Int(0)), row.Int(1),
                                     row.Bytes(2)});
      }));
  return events;
}

absl::StatusOr<std::vector<ArtifactRecord>> SqlStoreCore::ListArtifacts(
    const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->Ready());
  std::vector<ArtifactRecord> artifacts;
  QUANTD_RETURN_IF_ERROR(QueryLocked(
      absl::StrCat("SELECT name, blob, size_bytes, kind, create_time_ms "
                   "FROM artifacts WHERE job_id = $1 ORDER BY ",
                   dialect_->ByteOrder("name")),
      SqlParams().Add(job_id), [&](const SqlRow& row) {
        artifacts.push_back(ArtifactRecord{job_id, row.Text(0), row.Text(1),
                                           FromColumn(row.Int(2)), row.Text(3),
                                           row.Int(4)});
      }));
  return artifacts;
}

absl::Status SqlStoreCore::UpsertWorker(const WorkerRecord& worker) {
  const SqlParams params = internal::WorkerParams(worker);
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->Ready());
  return RunLocked(
      absl::StrCat(
          "INSERT INTO workers (", internal::kWorkerColumns, ") VALUES (",
          Markers(1, params.size()),
          ") ON CONFLICT (id) DO UPDATE SET capabilities = $2, "
          "device_kinds = $3, device_memory_bytes = $4, "
          "host_memory_bytes = $5, methods = $6, max_concurrent_jobs = "
          "$7, registered_time_ms = $8, last_seen_ms = $9"),
      params);
}

absl::Status SqlStoreCore::TouchWorker(const std::string& id, int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->Ready());
  QUANTD_ASSIGN_OR_RETURN(
      int64_t changed,
      ExecuteLocked("UPDATE workers SET last_seen_ms = $1 WHERE id = $2",
                    SqlParams().Add(now_ms).Add(id)));
  if (changed == 0) {
    return absl::NotFoundError(absl::StrCat("worker ", id, " not registered"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<WorkerRecord>> SqlStoreCore::ListWorkers() {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->Ready());
  std::vector<WorkerRecord> workers;
  QUANTD_RETURN_IF_ERROR(
      QueryLocked(absl::StrCat("SELECT ", internal::kWorkerColumns,
                               " FROM workers ORDER BY id"),
                  {}, [&](const SqlRow& row) {
                    workers.push_back(internal::WorkerFromRow(row));
                  }));
  return workers;
}

absl::Status SqlStoreCore::PutBlob(const BlobRecord& blob) {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->Ready());
  return RunLocked(
      "INSERT INTO blobs (blob, size_bytes, kind, create_time_ms) "
      "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
      SqlParams()
          .Add(blob.blob)
          .Add(ToColumn(blob.size_bytes))
          .Add(blob.kind)
          .Add(blob.create_time_ms));
}

absl::StatusOr<std::optional<BlobRecord>> SqlStoreCore::GetBlob(
    const std::string& blob) {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->Ready());
  std::optional<BlobRecord> record;
  QUANTD_RETURN_IF_ERROR(QueryLocked(
      "SELECT size_bytes, kind, create_time_ms FROM blobs "
      "WHERE blob = $1",
      SqlParams().Add(blob), [&](const SqlRow& row) {
        record =
            BlobRecord{blob, FromColumn(row.Int(0)), row.Text(1), row.Int(2)};
      }));
  return record;
}

absl::StatusOr<std::set<std::string>> SqlStoreCore::ListReferencedBlobs() {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->Ready());
  std::set<std::string> blobs;
  QUANTD_RETURN_IF_ERROR(QueryLocked(
      "SELECT blob FROM job_inputs UNION SELECT blob FROM artifacts", {},
      [&](const SqlRow& row) { blobs.insert(row.Text(0)); }));
  return blobs;
}

absl::Status SqlStoreCore::DeleteBlob(const std::string& blob) {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->Ready());
  return RunLocked("DELETE FROM blobs WHERE blob = $1", SqlParams().Add(blob));
}

absl::Status SqlStoreCore::Ping() {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->Ready());
  return RunLocked("SELECT 1");
}

}  // namespace quantd::store
