#include "server/store/postgres_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "server/store/postgres_schema.h"
#include "server/store/store_factory.h"

namespace quantd::store {
namespace {

using internal::PgParams;
using internal::PgResult;

constexpr char kJobColumns[] =
    "id, tenant, request_id, state, priority, attempt, max_attempts, method, "
    "device, device_memory_bytes, host_memory_bytes, create_time_ms, "
    "start_time_ms, end_time_ms, queued_time_ms, not_before_ms, deadline_ms, "
    "worker_id, fencing_token, lease_expiry_ms, cancel_requested, "
    "cancel_deadline_ms, last_sequence, spec, progress, result, error";
constexpr int kJobColumnCount = 27;

int64_t I(uint64_t value) { return static_cast<int64_t>(value); }
uint64_t U(int64_t value) { return static_cast<uint64_t>(value); }

JobRecord JobFromRow(const PgResult& r, int row) {
  JobRecord job;
  job.id = r.Text(row, 0);
  job.tenant = r.Text(row, 1);
  job.request_id = r.Text(row, 2);
  job.state = static_cast<JobState>(r.Int(row, 3));
  job.priority = static_cast<int32_t>(r.Int(row, 4));
  job.attempt = static_cast<uint32_t>(r.Int(row, 5));
  job.max_attempts = static_cast<uint32_t>(r.Int(row, 6));
  job.method = r.Text(row, 7);
  job.device = r.Text(row, 8);
  job.device_memory_bytes = U(r.Int(row, 9));
  job.host_memory_bytes = U(r.Int(row, 10));
  job.create_time_ms = r.Int(row, 11);
  job.start_time_ms = r.Int(row, 12);
  job.end_time_ms = r.Int(row, 13);
  job.queued_time_ms = r.Int(row, 14);
  job.not_before_ms = r.Int(row, 15);
  job.deadline_ms = r.Int(row, 16);
  job.worker_id = r.Text(row, 17);
  job.fencing_token = U(r.Int(row, 18));
  job.lease_expiry_ms = r.Int(row, 19);
  job.cancel_requested = r.Int(row, 20) != 0;
  job.cancel_deadline_ms = r.Int(row, 21);
  job.last_sequence = U(r.Int(row, 22));
  job.spec = r.Bytes(row, 23);
  job.progress = r.Bytes(row, 24);
  job.result = r.Bytes(row, 25);
  job.error = r.Bytes(row, 26);
  return job;
}

PgParams JobParams(const JobRecord& job) {
  PgParams p;
  p.Add(job.id).Add(job.tenant).Add(job.request_id);
  p.Add(static_cast<int64_t>(job.state)).Add(int64_t{job.priority});
  p.Add(int64_t{job.attempt}).Add(int64_t{job.max_attempts}).Add(job.method);
  p.Add(job.device).Add(I(job.device_memory_bytes));
  p.Add(I(job.host_memory_bytes)).Add(job.create_time_ms);
  p.Add(job.start_time_ms).Add(job.end_time_ms).Add(job.queued_time_ms);
  p.Add(job.not_before_ms).Add(job.deadline_ms).Add(job.worker_id);
  p.Add(I(job.fencing_token)).Add(job.lease_expiry_ms);
  p.Add(int64_t{job.cancel_requested ? 1 : 0}).Add(job.cancel_deadline_ms);
  p.Add(I(job.last_sequence)).AddBytes(job.spec).AddBytes(job.progress);
  p.AddBytes(job.result).AddBytes(job.error);
  return p;
}

std::string Placeholders(int first, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    absl::StrAppend(&out, i ? ", $" : "$", first + static_cast<int>(i));
  }
  return out;
}

std::string CommaList(const std::vector<std::string>& items) {
  if (items.empty()) return "";
  return absl::StrCat(",", absl::StrJoin(items, ","), ",");
}

}  // namespace

absl::StatusOr<std::unique_ptr<JobStore>> OpenPostgresStore(
    const std::string& dsn) {
  QUANTD_ASSIGN_OR_RETURN(auto store, PostgresJobStore::Open(dsn));
  return std::unique_ptr<JobStore>(std::move(store));
}

absl::StatusOr<std::unique_ptr<PostgresJobStore>> PostgresJobStore::Open(
    const std::string& dsn) {
  QUANTD_ASSIGN_OR_RETURN(auto conn, internal::PgConnection::Open(dsn));
  QUANTD_RETURN_IF_ERROR(
      conn->Exec("SET client_min_messages = warning").status());
  QUANTD_RETURN_IF_ERROR(internal::MigratePostgres(*conn));
  return std::unique_ptr<PostgresJobStore>(
      new PostgresJobStore(std::move(conn)));
}

absl::StatusOr<std::vector<JobRecord>> PostgresJobStore::QueryJobsLocked(
    const std::string& sql, const PgParams& params) {
  QUANTD_ASSIGN_OR_RETURN(PgResult result, conn_->Exec(sql, params));
  std::vector<JobRecord> jobs;
  for (int row = 0; row < result.rows(); ++row) {
    jobs.push_back(JobFromRow(result, row));
  }
  for (JobRecord& job : jobs) {
    QUANTD_ASSIGN_OR_RETURN(
        PgResult labels,
        conn_->Exec("SELECT key, value FROM job_labels WHERE job_id = $1",
                    PgParams().Add(job.id)));
    for (int row = 0; row < labels.rows(); ++row) {
      job.labels[labels.Text(row, 0)] = labels.Text(row, 1);
    }
  }
  return jobs;
}

absl::Status PostgresJobStore::WriteJobLocked(const JobRecord& job,
                                              bool insert) {
  std::string sql;
  if (insert) {
    sql = absl::StrCat("INSERT INTO jobs (", kJobColumns, ") VALUES (",
                       Placeholders(1, kJobColumnCount), ")");
  } else {
    std::vector<std::string> columns = absl::StrSplit(kJobColumns, ", ");
    std::vector<std::string> sets;
    for (size_t i = 1; i < columns.size(); ++i) {
      sets.push_back(absl::StrCat(columns[i], " = $", i + 1));
    }
    sql = absl::StrCat("UPDATE jobs SET ", absl::StrJoin(sets, ", "),
                       " WHERE id = $1");
  }
  return conn_->Exec(sql, JobParams(job)).status();
}

absl::StatusOr<std::vector<EventRecord>> PostgresJobStore::AppendEventsLocked(
    JobRecord& job, const std::vector<std::string>& payloads, int64_t time_ms) {
  std::vector<EventRecord> events;
  for (const std::string& payload : payloads) {
    EventRecord event{job.id, job.last_sequence + 1, time_ms, payload};
    QUANTD_RETURN_IF_ERROR(
        conn_
            ->Exec("INSERT INTO events (job_id, sequence, time_ms, payload) "
                   "VALUES ($1, $2, $3, $4)",
                   PgParams()
                       .Add(event.job_id)
                       .Add(I(event.sequence))
                       .Add(time_ms)
                       .AddBytes(payload))
            .status());
    job.last_sequence = event.sequence;
    events.push_back(std::move(event));
  }
  return events;
}

absl::StatusOr<std::optional<CreateOutcome>> PostgresJobStore::InsertLocked(
    JobRecord& job, const std::vector<std::string>& events,
    int64_t event_time_ms, uint32_t max_queued_for_tenant) {
  if (max_queued_for_tenant > 0) {
    QUANTD_ASSIGN_OR_RETURN(
        PgResult count,
        conn_->Exec("SELECT COUNT(*) FROM jobs WHERE tenant = $1 AND state = 1",
                    PgParams().Add(job.tenant)));
    if (count.Int(0, 0) >= max_queued_for_tenant) {
      return absl::ResourceExhaustedError(
          absl::StrCat("tenant \"", job.tenant, "\" has ", count.Int(0, 0),
                       " queued jobs, the limit"));
    }
  }
  job.last_sequence = 0;
  CreateOutcome outcome;
  outcome.created = true;
  QUANTD_ASSIGN_OR_RETURN(outcome.committed.events,
                          AppendEventsLocked(job, events, event_time_ms));
  QUANTD_RETURN_IF_ERROR(WriteJobLocked(job, /*insert=*/true));
  for (const auto& [key, value] : job.labels) {
    QUANTD_RETURN_IF_ERROR(
        conn_
            ->Exec("INSERT INTO job_labels (job_id, key, value) VALUES ($1, "
                   "$2, $3)",
                   PgParams().Add(job.id).Add(key).Add(value))
            .status());
  }
  for (const std::string& blob : job.input_blobs) {
    QUANTD_RETURN_IF_ERROR(
        conn_
            ->Exec("INSERT INTO job_inputs (job_id, blob) VALUES ($1, $2) ON "
                   "CONFLICT DO NOTHING",
                   PgParams().Add(job.id).Add(blob))
            .status());
  }
  outcome.committed.job = job;
  return outcome;
}

absl::StatusOr<CreateOutcome> PostgresJobStore::CreateJob(
    JobRecord job, std::vector<std::string> events, int64_t event_time_ms,
    uint32_t max_queued_for_tenant) {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->EnsureConnected());
  internal::PgTransaction txn(conn_.get());
  QUANTD_RETURN_IF_ERROR(txn.Begin());
  // One submitter per tenant at a time: the queue limit and the idempotency
  // check see each other's rows.
  QUANTD_RETURN_IF_ERROR(
      conn_
          ->Exec("SELECT pg_advisory_xact_lock(hashtext($1))",
                 PgParams().Add(job.tenant))
          .status());
  QUANTD_ASSIGN_OR_RETURN(
      std::vector<JobRecord> existing,
      QueryJobsLocked(absl::StrCat("SELECT ", kJobColumns,
                                   " FROM jobs WHERE tenant = $1 AND "
                                   "request_id = $2"),
                      PgParams().Add(job.tenant).Add(job.request_id)));
  if (!existing.empty()) {
    return CreateOutcome{Committed{std::move(existing.front()), {}}, false};
  }
  QUANTD_ASSIGN_OR_RETURN(
      std::optional<CreateOutcome> outcome,
      InsertLocked(job, events, event_time_ms, max_queued_for_tenant));
  QUANTD_RETURN_IF_ERROR(txn.Commit());
  return std::move(*outcome);
}

absl::StatusOr<JobRecord> PostgresJobStore::GetJob(const std::string& id) {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->EnsureConnected());
  QUANTD_ASSIGN_OR_RETURN(
      std::vector<JobRecord> jobs,
      QueryJobsLocked(
          absl::StrCat("SELECT ", kJobColumns, " FROM jobs WHERE id = $1"),
          PgParams().Add(id)));
  if (jobs.empty()) {
    return absl::NotFoundError(absl::StrCat("job ", id, " not found"));
  }
  return std::move(jobs.front());
}

absl::StatusOr<std::optional<JobRecord>> PostgresJobStore::FindJobByRequestId(
    const std::string& tenant, const std::string& request_id) {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->EnsureConnected());
  QUANTD_ASSIGN_OR_RETURN(
      std::vector<JobRecord> jobs,
      QueryJobsLocked(absl::StrCat("SELECT ", kJobColumns,
                                   " FROM jobs WHERE tenant = $1 AND "
                                   "request_id = $2"),
                      PgParams().Add(tenant).Add(request_id)));
  if (jobs.empty()) return std::nullopt;
  return std::move(jobs.front());
}

absl::StatusOr<std::vector<JobRecord>> PostgresJobStore::ListJobs(
    const JobQuery& query) {
  std::string sql =
      absl::StrCat("SELECT ", kJobColumns, " FROM jobs WHERE TRUE");
  PgParams params;
  int next = 1;
  if (!query.tenant.empty()) {
    absl::StrAppend(&sql, " AND tenant = $", next++);
    params.Add(query.tenant);
  }
  if (!query.states.empty()) {
    absl::StrAppend(&sql, " AND state IN (",
                    Placeholders(next, query.states.size()), ")");
    next += static_cast<int>(query.states.size());
    for (JobState state : query.states) params.Add(static_cast<int64_t>(state));
  }
  for (const auto& [key, value] : query.labels) {
    absl::StrAppend(&sql,
                    " AND EXISTS (SELECT 1 FROM job_labels l WHERE l.job_id "
                    "= jobs.id AND l.key = $",
                    next, " AND l.value = $", next + 1, ")");
    next += 2;
    params.Add(key).Add(value);
  }
  if (!query.after_id.empty()) {
    absl::StrAppend(&sql, query.ascending ? " AND id > $" : " AND id < $",
                    next++);
    params.Add(query.after_id);
  }
  absl::StrAppend(&sql, " ORDER BY id ", query.ascending ? "ASC" : "DESC",
                  " LIMIT $", next);
  params.Add(static_cast<int64_t>(query.limit));
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->EnsureConnected());
  return QueryJobsLocked(sql, params);
}

absl::StatusOr<Committed> PostgresJobStore::ApplyLocked(
    JobRecord job, const Mutator& mutator) {
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
    QUANTD_RETURN_IF_ERROR(
        conn_
            ->Exec("INSERT INTO artifacts (job_id, name, blob, size_bytes, "
                   "kind, create_time_ms) VALUES ($1, $2, $3, $4, $5, $6) ON "
                   "CONFLICT (job_id, name) DO UPDATE SET blob = $3, "
                   "size_bytes = $4, kind = $5, create_time_ms = $6",
                   PgParams()
                       .Add(job.id)
                       .Add(artifact.name)
                       .Add(artifact.blob)
                       .Add(I(artifact.size_bytes))
                       .Add(artifact.kind)
                       .Add(artifact.create_time_ms))
            .status());
  }
  committed.job = std::move(job);
  return committed;
}

absl::StatusOr<Committed> PostgresJobStore::UpdateJob(const std::string& id,
                                                      const Mutator& mutator) {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->EnsureConnected());
  internal::PgTransaction txn(conn_.get());
  QUANTD_RETURN_IF_ERROR(txn.Begin());
  QUANTD_ASSIGN_OR_RETURN(
      std::vector<JobRecord> jobs,
      QueryJobsLocked(absl::StrCat("SELECT ", kJobColumns,
                                   " FROM jobs WHERE id = $1 FOR UPDATE"),
                      PgParams().Add(id)));
  if (jobs.empty()) {
    return absl::NotFoundError(absl::StrCat("job ", id, " not found"));
  }
  QUANTD_ASSIGN_OR_RETURN(Committed committed,
                          ApplyLocked(std::move(jobs.front()), mutator));
  QUANTD_RETURN_IF_ERROR(txn.Commit());
  return committed;
}

absl::StatusOr<std::optional<Committed>> PostgresJobStore::ClaimJob(
    const ClaimFilter& filter, const Mutator& mutator) {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->EnsureConnected());
  internal::PgTransaction txn(conn_.get());
  QUANTD_RETURN_IF_ERROR(txn.Begin());
  QUANTD_ASSIGN_OR_RETURN(
      PgResult held,
      conn_->Exec("SELECT COUNT(*) FROM jobs WHERE worker_id = $1 AND state "
                  "IN (2, 3)",
                  PgParams().Add(filter.worker_id)));
  if (held.Int(0, 0) >= filter.max_jobs_for_worker) return std::nullopt;
  std::string sql = absl::StrCat(
      "SELECT ", kJobColumns,
      " FROM jobs WHERE state = 1 AND not_before_ms <= $1 "
      "AND (device = '' OR position(',' || device || ',' in $2) > 0) "
      "AND device_memory_bytes <= $3 AND host_memory_bytes <= $4 "
      "AND ($5 = '' OR position(',' || method || ',' in $5) > 0) ");
  PgParams params;
  params.Add(filter.now_ms).Add(CommaList(filter.device_kinds));
  params.Add(I(filter.device_memory_bytes)).Add(I(filter.host_memory_bytes));
  params.Add(CommaList(filter.methods));
  if (filter.max_running_per_tenant > 0) {
    absl::StrAppend(&sql,
                    "AND tenant NOT IN (SELECT tenant FROM jobs WHERE state "
                    "IN (2, 3) GROUP BY tenant HAVING COUNT(*) >= $6) ");
    params.Add(static_cast<int64_t>(filter.max_running_per_tenant));
  }
  // Replicas skip rows another one is claiming instead of waiting on them.
  absl::StrAppend(&sql,
                  "ORDER BY priority DESC, id ASC LIMIT 1 FOR UPDATE SKIP "
                  "LOCKED");
  QUANTD_ASSIGN_OR_RETURN(std::vector<JobRecord> jobs,
                          QueryJobsLocked(sql, params));
  if (jobs.empty()) return std::nullopt;
  QUANTD_ASSIGN_OR_RETURN(Committed committed,
                          ApplyLocked(std::move(jobs.front()), mutator));
  QUANTD_RETURN_IF_ERROR(txn.Commit());
  return committed;
}

absl::StatusOr<std::vector<std::string>> PostgresJobStore::ListDueJobs(
    int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->EnsureConnected());
  QUANTD_ASSIGN_OR_RETURN(
      PgResult result,
      conn_->Exec(
          "SELECT id FROM jobs WHERE state IN (1, 2, 3) AND ("
          "(state IN (2, 3) AND lease_expiry_ms <= $1) OR "
          "(cancel_requested = 1 AND cancel_deadline_ms > 0 AND "
          "cancel_deadline_ms <= $1) OR "
          "(cancel_requested = 0 AND deadline_ms > 0 AND deadline_ms <= $1)) "
          "ORDER BY id",
          PgParams().Add(now_ms)));
  std::vector<std::string> ids;
  for (int row = 0; row < result.rows(); ++row)
    ids.push_back(result.Text(row, 0));
  return ids;
}

absl::StatusOr<std::vector<JobRecord>> PostgresJobStore::ListHeldJobs(
    const std::string& worker_id) {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->EnsureConnected());
  return QueryJobsLocked(
      absl::StrCat("SELECT ", kJobColumns,
                   " FROM jobs WHERE worker_id = $1 AND state IN (2, 3) "
                   "ORDER BY id"),
      PgParams().Add(worker_id));
}

absl::StatusOr<std::map<int32_t, int64_t>>
PostgresJobStore::CountQueuedByPriority() {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->EnsureConnected());
  QUANTD_ASSIGN_OR_RETURN(PgResult result,
                          conn_->Exec("SELECT priority, COUNT(*) FROM jobs "
                                      "WHERE state = 1 GROUP BY priority"));
  std::map<int32_t, int64_t> counts;
  for (int row = 0; row < result.rows(); ++row) {
    counts[static_cast<int32_t>(result.Int(row, 0))] = result.Int(row, 1);
  }
  return counts;
}

absl::StatusOr<std::vector<EventRecord>> PostgresJobStore::ListEvents(
    const std::string& job_id, uint64_t after_sequence, uint32_t limit) {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->EnsureConnected());
  QUANTD_ASSIGN_OR_RETURN(
      PgResult result,
      conn_->Exec(
          "SELECT sequence, time_ms, payload FROM events WHERE "
          "job_id = $1 AND sequence > $2 ORDER BY sequence LIMIT $3",
          PgParams().Add(job_id).Add(I(after_sequence)).Add(int64_t{limit})));
  std::vector<EventRecord> events;
  for (int row = 0; row < result.rows(); ++row) {
    events.push_back(EventRecord{job_id, U(result.Int(row, 0)),
                                 result.Int(row, 1), result.Bytes(row, 2)});
  }
  return events;
}

absl::StatusOr<std::vector<ArtifactRecord>> PostgresJobStore::ListArtifacts(
    const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->EnsureConnected());
  QUANTD_ASSIGN_OR_RETURN(
      PgResult result,
      conn_->Exec("SELECT name, blob, size_bytes, kind, create_time_ms FROM "
                  "artifacts WHERE job_id = $1 ORDER BY name COLLATE \"C\"",
                  PgParams().Add(job_id)));
  std::vector<ArtifactRecord> artifacts;
  for (int row = 0; row < result.rows(); ++row) {
    artifacts.push_back(ArtifactRecord{
        job_id, result.Text(row, 0), result.Text(row, 1), U(result.Int(row, 2)),
        result.Text(row, 3), result.Int(row, 4)});
  }
  return artifacts;
}

absl::Status PostgresJobStore::UpsertWorker(const WorkerRecord& worker) {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->EnsureConnected());
  PgParams params;
  params.Add(worker.id).AddBytes(worker.capabilities);
  params.Add(absl::StrJoin(worker.device_kinds, ","));
  params.Add(I(worker.device_memory_bytes)).Add(I(worker.host_memory_bytes));
  params.Add(absl::StrJoin(worker.methods, ","));
  params.Add(int64_t{worker.max_concurrent_jobs});
  params.Add(worker.registered_time_ms).Add(worker.last_seen_ms);
  return conn_
      ->Exec(
          "INSERT INTO workers (id, capabilities, device_kinds, "
          "device_memory_bytes, host_memory_bytes, methods, "
          "max_concurrent_jobs, registered_time_ms, last_seen_ms) VALUES ($1, "
          "$2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO UPDATE SET "
          "capabilities = $2, device_kinds = $3, device_memory_bytes = $4, "
          "host_memory_bytes = $5, methods = $6, max_concurrent_jobs = $7, "
          "registered_time_ms = $8, last_seen_ms = $9",
          params)
      .status();
}

absl::Status PostgresJobStore::TouchWorker(const std::string& id,
                                           int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->EnsureConnected());
  QUANTD_ASSIGN_OR_RETURN(
      PgResult result,
      conn_->Exec("UPDATE workers SET last_seen_ms = $1 WHERE id = $2",
                  PgParams().Add(now_ms).Add(id)));
  if (result.affected() == 0) {
    return absl::NotFoundError(absl::StrCat("worker ", id, " not registered"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<WorkerRecord>> PostgresJobStore::ListWorkers() {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->EnsureConnected());
  QUANTD_ASSIGN_OR_RETURN(
      PgResult result,
      conn_->Exec("SELECT id, capabilities, device_kinds, device_memory_bytes, "
                  "host_memory_bytes, methods, max_concurrent_jobs, "
                  "registered_time_ms, last_seen_ms FROM workers ORDER BY id"));
  std::vector<WorkerRecord> workers;
  for (int row = 0; row < result.rows(); ++row) {
    WorkerRecord worker;
    worker.id = result.Text(row, 0);
    worker.capabilities = result.Bytes(row, 1);
    worker.device_kinds =
        absl::StrSplit(result.Text(row, 2), ',', absl::SkipEmpty());
    worker.device_memory_bytes = U(result.Int(row, 3));
    worker.host_memory_bytes = U(result.Int(row, 4));
    worker.methods =
        absl::StrSplit(result.Text(row, 5), ',', absl::SkipEmpty());
    worker.max_concurrent_jobs = static_cast<uint32_t>(result.Int(row, 6));
    worker.registered_time_ms = result.Int(row, 7);
    worker.last_seen_ms = result.Int(row, 8);
    workers.push_back(std::move(worker));
  }
  return workers;
}

absl::Status PostgresJobStore::PutBlob(const BlobRecord& blob) {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->EnsureConnected());
  return conn_
      ->Exec(
          "INSERT INTO blobs (blob, size_bytes, kind, create_time_ms) "
          "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
          PgParams()
              .Add(blob.blob)
              .Add(I(blob.size_bytes))
              .Add(blob.kind)
              .Add(blob.create_time_ms))
      .status();
}

absl::StatusOr<std::optional<BlobRecord>> PostgresJobStore::GetBlob(
    const std::string& blob) {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->EnsureConnected());
  QUANTD_ASSIGN_OR_RETURN(
      PgResult result,
      conn_->Exec("SELECT size_bytes, kind, create_time_ms FROM blobs WHERE "
                  "blob = $1",
                  PgParams().Add(blob)));
  if (result.rows() == 0) return std::nullopt;
  return BlobRecord{blob, U(result.Int(0, 0)), result.Text(0, 1),
                    result.Int(0, 2)};
}

absl::StatusOr<std::set<std::string>> PostgresJobStore::ListReferencedBlobs() {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->EnsureConnected());
  QUANTD_ASSIGN_OR_RETURN(
      PgResult result, conn_->Exec("SELECT blob FROM job_inputs UNION SELECT "
                                   "blob FROM artifacts"));
  std::set<std::string> blobs;
  for (int row = 0; row < result.rows(); ++row)
    blobs.insert(result.Text(row, 0));
  return blobs;
}

absl::Status PostgresJobStore::DeleteBlob(const std::string& blob) {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->EnsureConnected());
  return conn_->Exec("DELETE FROM blobs WHERE blob = $1", PgParams().Add(blob))
      .status();
}

absl::Status PostgresJobStore::Ping() {
  absl::MutexLock lock(&mu_);
  QUANTD_RETURN_IF_ERROR(conn_->EnsureConnected());
  return conn_->Exec("SELECT 1").status();
}

}  // namespace quantd::store
