#include "server/store/sqlite_store.h"

#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "server/store/sqlite_schema.h"

namespace quantd::store {
namespace {

using internal::SqliteStatement;

constexpr char kJobColumns[] =
    "id, tenant, request_id, state, priority, attempt, max_attempts, method, "
    "device, device_memory_bytes, host_memory_bytes, create_time_ms, "
    "start_time_ms, end_time_ms, queued_time_ms, not_before_ms, deadline_ms, "
    "worker_id, fencing_token, lease_expiry_ms, cancel_requested, "
    "cancel_deadline_ms, last_sequence, spec, progress, result, error";
constexpr int kJobColumnCount = 27;

int64_t I(uint64_t value) { return static_cast<int64_t>(value); }
uint64_t U(int64_t value) { return static_cast<uint64_t>(value); }

JobRecord JobFromRow(const SqliteStatement& row) {
  JobRecord job;
  job.id = row.Text(0);
  job.tenant = row.Text(1);
  job.request_id = row.Text(2);
  job.state = static_cast<JobState>(row.Int(3));
  job.priority = static_cast<int32_t>(row.Int(4));
  job.attempt = static_cast<uint32_t>(row.Int(5));
  job.max_attempts = static_cast<uint32_t>(row.Int(6));
  job.method = row.Text(7);
  job.device = row.Text(8);
  job.device_memory_bytes = U(row.Int(9));
  job.host_memory_bytes = U(row.Int(10));
  job.create_time_ms = row.Int(11);
  job.start_time_ms = row.Int(12);
  job.end_time_ms = row.Int(13);
  job.queued_time_ms = row.Int(14);
  job.not_before_ms = row.Int(15);
  job.deadline_ms = row.Int(16);
  job.worker_id = row.Text(17);
  job.fencing_token = U(row.Int(18));
  job.lease_expiry_ms = row.Int(19);
  job.cancel_requested = row.Int(20) != 0;
  job.cancel_deadline_ms = row.Int(21);
  job.last_sequence = U(row.Int(22));
  job.spec = row.Text(23);
  job.progress = row.Text(24);
  job.result = row.Text(25);
  job.error = row.Text(26);
  return job;
}

void BindJob(SqliteStatement& stmt, const JobRecord& job) {
  stmt.Bind(1, job.id).Bind(2, job.tenant).Bind(3, job.request_id);
  stmt.Bind(4, static_cast<int64_t>(job.state)).Bind(5, job.priority);
  stmt.Bind(6, job.attempt).Bind(7, job.max_attempts).Bind(8, job.method);
  stmt.Bind(9, job.device).Bind(10, I(job.device_memory_bytes));
  stmt.Bind(11, I(job.host_memory_bytes)).Bind(12, job.create_time_ms);
  stmt.Bind(13, job.start_time_ms).Bind(14, job.end_time_ms);
  stmt.Bind(15, job.queued_time_ms).Bind(16, job.not_before_ms);
  stmt.Bind(17, job.deadline_ms).Bind(18, job.worker_id);
  stmt.Bind(19, I(job.fencing_token)).Bind(20, job.lease_expiry_ms);
  stmt.Bind(21, job.cancel_requested ? 1 : 0).Bind(22, job.cancel_deadline_ms);
  stmt.Bind(23, I(job.last_sequence)).BindBlob(24, job.spec);
  stmt.BindBlob(25, job.progress).BindBlob(26, job.result);
  stmt.BindBlob(27, job.error);
}

std::string Placeholders(size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) absl::StrAppend(&out, i ? ", ?" : "?");
  return out;
}

// ",a,b," so that instr(list, ',' || x || ',') tests membership.
std::string CommaList(const std::vector<std::string>& items) {
  if (items.empty()) return "";
  return absl::StrCat(",", absl::StrJoin(items, ","), ",");
}

std::vector<std::string> SplitList(const std::string& text) {
  return absl::StrSplit(text, ',', absl::SkipEmpty());
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteJobStore>> SqliteJobStore::Open(
    const SqliteOptions& options) {
  QUANTD_ASSIGN_OR_RETURN(auto db, internal::SqliteDb::Open(options.path));
  QUANTD_RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode = WAL"));
  QUANTD_RETURN_IF_ERROR(db->Exec(options.synchronous_full
                                      ? "PRAGMA synchronous = FULL"
                                      : "PRAGMA synchronous = NORMAL"));
  QUANTD_RETURN_IF_ERROR(internal::MigrateSqlite(*db));
  return std::unique_ptr<SqliteJobStore>(
      new SqliteJobStore(std::move(db), options.path));
}

absl::StatusOr<std::vector<JobRecord>> SqliteJobStore::QueryJobsLocked(
    SqliteStatement& select) {
  std::vector<JobRecord> jobs;
  while (true) {
    QUANTD_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    jobs.push_back(JobFromRow(select));
  }
  for (JobRecord& job : jobs) QUANTD_RETURN_IF_ERROR(LoadLabelsLocked(job));
  return jobs;
}

absl::Status SqliteJobStore::LoadLabelsLocked(JobRecord& job) {
  QUANTD_ASSIGN_OR_RETURN(
      auto select,
      db_->Prepare("SELECT key, value FROM job_labels WHERE job_id = ?"));
  select.Bind(1, job.id);
  while (true) {
    QUANTD_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    job.labels[select.Text(0)] = select.Text(1);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<JobRecord>> SqliteJobStore::ReadJobLocked(
    const std::string& where, const std::string& a, const std::string& b) {
  QUANTD_ASSIGN_OR_RETURN(
      auto select, db_->Prepare(absl::StrCat("SELECT ", kJobColumns,
                                             " FROM jobs WHERE ", where)));
  select.Bind(1, a);
  if (!b.empty()) select.Bind(2, b);
  QUANTD_ASSIGN_OR_RETURN(std::vector<JobRecord> jobs, QueryJobsLocked(select));
  if (jobs.empty()) return std::nullopt;
  return std::move(jobs.front());
}

absl::Status SqliteJobStore::WriteJobLocked(const JobRecord& job, bool insert) {
  QUANTD_ASSIGN_OR_RETURN(
      auto stmt, db_->Prepare(absl::StrCat(
                     insert ? "INSERT" : "REPLACE", " INTO jobs (", kJobColumns,
                     ") VALUES (", Placeholders(kJobColumnCount), ")")));
  BindJob(stmt, job);
  return stmt.Run();
}

absl::StatusOr<std::vector<EventRecord>> SqliteJobStore::AppendEventsLocked(
    JobRecord& job, const std::vector<std::string>& payloads, int64_t time_ms) {
  std::vector<EventRecord> events;
  if (payloads.empty()) return events;
  QUANTD_ASSIGN_OR_RETURN(
      auto insert, db_->Prepare("INSERT INTO events (job_id, sequence, "
                                "time_ms, payload) VALUES (?, ?, ?, ?)"));
  for (const std::string& payload : payloads) {
    EventRecord event{job.id, job.last_sequence + 1, time_ms, payload};
    insert.Bind(1, event.job_id).Bind(2, I(event.sequence));
    insert.Bind(3, time_ms).BindBlob(4, payload);
    QUANTD_RETURN_IF_ERROR(insert.Run());
    insert.Reset();
    job.last_sequence = event.sequence;
    events.push_back(std::move(event));
  }
  return events;
}

absl::Status SqliteJobStore::WriteArtifactLocked(
    const ArtifactRecord& artifact) {
  QUANTD_ASSIGN_OR_RETURN(
      auto stmt,
      db_->Prepare("REPLACE INTO artifacts (job_id, name, blob, size_bytes, "
                   "kind, create_time_ms) VALUES (?, ?, ?, ?, ?, ?)"));
  stmt.Bind(1, artifact.job_id).Bind(2, artifact.name).Bind(3, artifact.blob);
  stmt.Bind(4, I(artifact.size_bytes)).Bind(5, artifact.kind);
  stmt.Bind(6, artifact.create_time_ms);
  return stmt.Run();
}

absl::StatusOr<int64_t> SqliteJobStore::CountLocked(const std::string& sql,
                                                    const std::string& a,
                                                    int64_t b) {
  QUANTD_ASSIGN_OR_RETURN(auto select, db_->Prepare(sql));
  select.Bind(1, a).Bind(2, b);
  QUANTD_ASSIGN_OR_RETURN(bool row, select.Step());
  return row ? select.Int(0) : 0;
}

absl::StatusOr<CreateOutcome> SqliteJobStore::CreateJob(
    JobRecord job, std::vector<std::string> events, int64_t event_time_ms,
    uint32_t max_queued_for_tenant) {
  absl::MutexLock lock(&mu_);
  internal::SqliteTransaction txn(db_.get());
  QUANTD_RETURN_IF_ERROR(txn.Begin());
  QUANTD_ASSIGN_OR_RETURN(std::optional<JobRecord> existing,
                          ReadJobLocked("tenant = ? AND request_id = ?",
                                        job.tenant, job.request_id));
  if (existing.has_value()) {
    return CreateOutcome{Committed{std::move(*existing), {}}, false};
  }
  if (max_queued_for_tenant > 0) {
    QUANTD_ASSIGN_OR_RETURN(
        int64_t queued,
        CountLocked("SELECT COUNT(*) FROM jobs WHERE tenant = ? AND state = ?",
                    job.tenant, static_cast<int64_t>(JobState::kQueued)));
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
    QUANTD_ASSIGN_OR_RETURN(
        auto stmt, db_->Prepare("INSERT INTO job_labels (job_id, key, value) "
                                "VALUES (?, ?, ?)"));
    QUANTD_RETURN_IF_ERROR(
        stmt.Bind(1, job.id).Bind(2, key).Bind(3, value).Run());
  }
  for (const std::string& blob : job.input_blobs) {
    QUANTD_ASSIGN_OR_RETURN(
        auto stmt, db_->Prepare("INSERT OR IGNORE INTO job_inputs (job_id, "
                                "blob) VALUES (?, ?)"));
    QUANTD_RETURN_IF_ERROR(stmt.Bind(1, job.id).Bind(2, blob).Run());
  }
  QUANTD_RETURN_IF_ERROR(txn.Commit());
  committed.job = std::move(job);
  return CreateOutcome{std::move(committed), true};
}

absl::StatusOr<JobRecord> SqliteJobStore::GetJob(const std::string& id) {
  absl::MutexLock lock(&mu_);
  QUANTD_ASSIGN_OR_RETURN(std::optional<JobRecord> job,
                          ReadJobLocked("id = ?", id, ""));
  if (!job.has_value()) {
    return absl::NotFoundError(absl::StrCat("job ", id, " not found"));
  }
  return std::move(*job);
}

absl::StatusOr<std::optional<JobRecord>> SqliteJobStore::FindJobByRequestId(
    const std::string& tenant, const std::string& request_id) {
  absl::MutexLock lock(&mu_);
  return ReadJobLocked("tenant = ? AND request_id = ?", tenant, request_id);
}

absl::StatusOr<std::vector<JobRecord>> SqliteJobStore::ListJobs(
    const JobQuery& query) {
  std::string sql = absl::StrCat("SELECT ", kJobColumns, " FROM jobs WHERE 1");
  if (!query.tenant.empty()) absl::StrAppend(&sql, " AND tenant = ?");
  if (!query.states.empty()) {
    absl::StrAppend(&sql, " AND state IN (", Placeholders(query.states.size()),
                    ")");
  }
  for (size_t i = 0; i < query.labels.size(); ++i) {
    absl::StrAppend(&sql,
                    " AND EXISTS (SELECT 1 FROM job_labels l WHERE l.job_id "
                    "= jobs.id AND l.key = ? AND l.value = ?)");
  }
  if (!query.after_id.empty()) {
    absl::StrAppend(&sql, query.ascending ? " AND id > ?" : " AND id < ?");
  }
  absl::StrAppend(&sql, " ORDER BY id ", query.ascending ? "ASC" : "DESC",
                  " LIMIT ?");
  absl::MutexLock lock(&mu_);
  QUANTD_ASSIGN_OR_RETURN(auto select, db_->Prepare(sql));
  int index = 1;
  if (!query.tenant.empty()) select.Bind(index++, query.tenant);
  for (JobState state : query.states) {
    select.Bind(index++, static_cast<int64_t>(state));
  }
  for (const auto& [key, value] : query.labels) {
    select.Bind(index, key).Bind(index + 1, value);
    index += 2;
  }
  if (!query.after_id.empty()) select.Bind(index++, query.after_id);
  select.Bind(index, static_cast<int64_t>(query.limit));
  return QueryJobsLocked(select);
}

absl::StatusOr<Committed> SqliteJobStore::ApplyLocked(JobRecord job,
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
  for (ArtifactRecord& artifact : update.artifacts) {
    artifact.job_id = job.id;
    QUANTD_RETURN_IF_ERROR(WriteArtifactLocked(artifact));
  }
  committed.job = std::move(job);
  return committed;
}

absl::StatusOr<Committed> SqliteJobStore::UpdateJob(const std::string& id,
                                                    const Mutator& mutator) {
  absl::MutexLock lock(&mu_);
  internal::SqliteTransaction txn(db_.get());
  QUANTD_RETURN_IF_ERROR(txn.Begin());
  QUANTD_ASSIGN_OR_RETURN(std::optional<JobRecord> job,
                          ReadJobLocked("id = ?", id, ""));
  if (!job.has_value()) {
    return absl::NotFoundError(absl::StrCat("job ", id, " not found"));
  }
  QUANTD_ASSIGN_OR_RETURN(Committed committed,
                          ApplyLocked(std::move(*job), mutator));
  QUANTD_RETURN_IF_ERROR(txn.Commit());
  return committed;
}

absl::StatusOr<std::optional<std::string>> SqliteJobStore::PickClaimableLocked(
    const ClaimFilter& filter) {
  QUANTD_ASSIGN_OR_RETURN(
      int64_t held,
      CountLocked("SELECT COUNT(*) FROM jobs WHERE worker_id = ? AND state "
                  "IN (?, 3)",
                  filter.worker_id, static_cast<int64_t>(JobState::kLeased)));
  if (held >= filter.max_jobs_for_worker) return std::nullopt;
  std::string sql =
      "SELECT id FROM jobs WHERE state = 1 AND not_before_ms <= ?1 "
      "AND (device = '' OR instr(?2, ',' || device || ',') > 0) "
      "AND device_memory_bytes <= ?3 AND host_memory_bytes <= ?4 "
      "AND (?5 = '' OR instr(?5, ',' || method || ',') > 0) ";
  if (filter.max_running_per_tenant > 0) {
    absl::StrAppend(&sql,
                    "AND tenant NOT IN (SELECT tenant FROM jobs WHERE state "
                    "IN (2, 3) GROUP BY tenant HAVING COUNT(*) >= ?6) ");
  }
  absl::StrAppend(&sql, "ORDER BY priority DESC, id ASC LIMIT 1");
  QUANTD_ASSIGN_OR_RETURN(auto select, db_->Prepare(sql));
  select.Bind(1, filter.now_ms).Bind(2, CommaList(filter.device_kinds));
  select.Bind(3, I(filter.device_memory_bytes));
  select.Bind(4, I(filter.host_memory_bytes));
  select.Bind(5, CommaList(filter.methods));
  if (filter.max_running_per_tenant > 0) {
    select.Bind(6, static_cast<int64_t>(filter.max_running_per_tenant));
  }
  QUANTD_ASSIGN_OR_RETURN(bool row, select.Step());
  if (!row) return std::nullopt;
  return select.Text(0);
}

absl::StatusOr<std::optional<Committed>> SqliteJobStore::ClaimJob(
    const ClaimFilter& filter, const Mutator& mutator) {
  absl::MutexLock lock(&mu_);
  internal::SqliteTransaction txn(db_.get());
  QUANTD_RETURN_IF_ERROR(txn.Begin());
  QUANTD_ASSIGN_OR_RETURN(std::optional<std::string> id,
                          PickClaimableLocked(filter));
  if (!id.has_value()) return std::nullopt;
  QUANTD_ASSIGN_OR_RETURN(std::optional<JobRecord> job,
                          ReadJobLocked("id = ?", *id, ""));
  if (!job.has_value())
    return absl::InternalError("store: claimed job vanished");
  QUANTD_ASSIGN_OR_RETURN(Committed committed,
                          ApplyLocked(std::move(*job), mutator));
  QUANTD_RETURN_IF_ERROR(txn.Commit());
  return committed;
}

absl::StatusOr<std::vector<std::string>> SqliteJobStore::ListDueJobs(
    int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  QUANTD_ASSIGN_OR_RETURN(
      auto select,
      db_->Prepare(
          "SELECT id FROM jobs WHERE state IN (1, 2, 3) AND ("
          "(state IN (2, 3) AND lease_expiry_ms <= ?1) OR "
          "(cancel_requested = 1 AND cancel_deadline_ms > 0 AND "
          "cancel_deadline_ms <= ?1) OR "
          "(cancel_requested = 0 AND deadline_ms > 0 AND deadline_ms <= ?1)) "
          "ORDER BY id"));
  select.Bind(1, now_ms);
  std::vector<std::string> ids;
  while (true) {
    QUANTD_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    ids.push_back(select.Text(0));
  }
  return ids;
}

absl::StatusOr<std::vector<JobRecord>> SqliteJobStore::ListHeldJobs(
    const std::string& worker_id) {
  absl::MutexLock lock(&mu_);
  QUANTD_ASSIGN_OR_RETURN(
      auto select,
      db_->Prepare(absl::StrCat("SELECT ", kJobColumns,
                                " FROM jobs WHERE worker_id = ? AND state IN "
                                "(2, 3) ORDER BY id")));
  select.Bind(1, worker_id);
  return QueryJobsLocked(select);
}

absl::StatusOr<std::map<int32_t, int64_t>>
SqliteJobStore::CountQueuedByPriority() {
  absl::MutexLock lock(&mu_);
  QUANTD_ASSIGN_OR_RETURN(
      auto select, db_->Prepare("SELECT priority, COUNT(*) FROM jobs WHERE "
                                "state = 1 GROUP BY priority"));
  std::map<int32_t, int64_t> counts;
  while (true) {
    QUANTD_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    counts[static_cast<int32_t>(select.Int(0))] = select.Int(1);
  }
  return counts;
}

absl::StatusOr<std::vector<EventRecord>> SqliteJobStore::ListEvents(
    const std::string& job_id, uint64_t after_sequence, uint32_t limit) {
  absl::MutexLock lock(&mu_);
  QUANTD_ASSIGN_OR_RETURN(
      auto select,
      db_->Prepare("SELECT sequence, time_ms, payload FROM events WHERE "
                   "job_id = ? AND sequence > ? ORDER BY sequence LIMIT ?"));
  select.Bind(1, job_id).Bind(2, I(after_sequence));
  select.Bind(3, static_cast<int64_t>(limit));
  std::vector<EventRecord> events;
  while (true) {
    QUANTD_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    events.push_back(
        EventRecord{job_id, U(select.Int(0)), select.Int(1), select.Text(2)});
  }
  return events;
}

absl::StatusOr<std::vector<ArtifactRecord>> SqliteJobStore::ListArtifacts(
    const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  QUANTD_ASSIGN_OR_RETURN(
      auto select,
      db_->Prepare("SELECT name, blob, size_bytes, kind, create_time_ms FROM "
                   "artifacts WHERE job_id = ? ORDER BY name"));
  select.Bind(1, job_id);
  std::vector<ArtifactRecord> artifacts;
  while (true) {
    QUANTD_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    artifacts.push_back(ArtifactRecord{job_id, select.Text(0), select.Text(1),
                                       U(select.Int(2)), select.Text(3),
                                       select.Int(4)});
  }
  return artifacts;
}

absl::Status SqliteJobStore::UpsertWorker(const WorkerRecord& worker) {
  absl::MutexLock lock(&mu_);
  QUANTD_ASSIGN_OR_RETURN(
      auto stmt,
      db_->Prepare("REPLACE INTO workers (id, capabilities, device_kinds, "
                   "device_memory_bytes, host_memory_bytes, methods, "
                   "max_concurrent_jobs, registered_time_ms, last_seen_ms) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  stmt.Bind(1, worker.id).BindBlob(2, worker.capabilities);
  stmt.Bind(3, absl::StrJoin(worker.device_kinds, ","));
  stmt.Bind(4, I(worker.device_memory_bytes));
  stmt.Bind(5, I(worker.host_memory_bytes));
  stmt.Bind(6, absl::StrJoin(worker.methods, ","));
  stmt.Bind(7, static_cast<int64_t>(worker.max_concurrent_jobs));
  stmt.Bind(8, worker.registered_time_ms).Bind(9, worker.last_seen_ms);
  return stmt.Run();
}

absl::Status SqliteJobStore::TouchWorker(const std::string& id,
                                         int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  QUANTD_ASSIGN_OR_RETURN(
      auto stmt,
      db_->Prepare("UPDATE workers SET last_seen_ms = ? WHERE id = ?"));
  QUANTD_RETURN_IF_ERROR(stmt.Bind(1, now_ms).Bind(2, id).Run());
  QUANTD_ASSIGN_OR_RETURN(auto check, db_->Prepare("SELECT changes()"));
  QUANTD_ASSIGN_OR_RETURN(bool row, check.Step());
  if (!row || check.Int(0) == 0) {
    return absl::NotFoundError(absl::StrCat("worker ", id, " not registered"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<WorkerRecord>> SqliteJobStore::ListWorkers() {
  absl::MutexLock lock(&mu_);
  QUANTD_ASSIGN_OR_RETURN(
      auto select,
      db_->Prepare("SELECT id, capabilities, device_kinds, "
                   "device_memory_bytes, host_memory_bytes, methods, "
                   "max_concurrent_jobs, registered_time_ms, last_seen_ms "
                   "FROM workers ORDER BY id"));
  std::vector<WorkerRecord> workers;
  while (true) {
    QUANTD_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    WorkerRecord worker;
    worker.id = select.Text(0);
    worker.capabilities = select.Text(1);
    worker.device_kinds = SplitList(select.Text(2));
    worker.device_memory_bytes = U(select.Int(3));
    worker.host_memory_bytes = U(select.Int(4));
    worker.methods = SplitList(select.Text(5));
    worker.max_concurrent_jobs = static_cast<uint32_t>(select.Int(6));
    worker.registered_time_ms = select.Int(7);
    worker.last_seen_ms = select.Int(8);
    workers.push_back(std::move(worker));
  }
  return workers;
}

absl::Status SqliteJobStore::PutBlob(const BlobRecord& blob) {
  absl::MutexLock lock(&mu_);
  QUANTD_ASSIGN_OR_RETURN(
      auto stmt,
      db_->Prepare("INSERT OR IGNORE INTO blobs (blob, size_bytes, kind, "
                   "create_time_ms) VALUES (?, ?, ?, ?)"));
  stmt.Bind(1, blob.blob).Bind(2, I(blob.size_bytes)).Bind(3, blob.kind);
  return stmt.Bind(4, blob.create_time_ms).Run();
}

absl::StatusOr<std::optional<BlobRecord>> SqliteJobStore::GetBlob(
    const std::string& blob) {
  absl::MutexLock lock(&mu_);
  QUANTD_ASSIGN_OR_RETURN(
      auto select, db_->Prepare("SELECT size_bytes, kind, create_time_ms "
                                "FROM blobs WHERE blob = ?"));
  select.Bind(1, blob);
  QUANTD_ASSIGN_OR_RETURN(bool row, select.Step());
  if (!row) return std::nullopt;
  return BlobRecord{blob, U(select.Int(0)), select.Text(1), select.Int(2)};
}

absl::StatusOr<std::set<std::string>> SqliteJobStore::ListReferencedBlobs() {
  absl::MutexLock lock(&mu_);
  QUANTD_ASSIGN_OR_RETURN(
      auto select, db_->Prepare("SELECT blob FROM job_inputs UNION SELECT "
                                "blob FROM artifacts"));
  std::set<std::string> blobs;
  while (true) {
    QUANTD_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    blobs.insert(select.Text(0));
  }
  return blobs;
}

absl::Status SqliteJobStore::DeleteBlob(const std::string& blob) {
  absl::MutexLock lock(&mu_);
  QUANTD_ASSIGN_OR_RETURN(auto stmt,
                          db_->Prepare("DELETE FROM blobs WHERE blob = ?"));
  return stmt.Bind(1, blob).Run();
}

absl::Status SqliteJobStore::Ping() {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path_, error)) {
    return absl::UnavailableError(
        absl::StrCat("store: database file ", path_, " is gone"));
  }
  absl::MutexLock lock(&mu_);
  QUANTD_ASSIGN_OR_RETURN(auto select, db_->Prepare("SELECT 1"));
  return select.Run();
}

}  // namespace quantd::store
