#include "server/store/sqlite_schema.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace quantd::store::internal {
namespace {

// Append only: a released migration never changes.
const std::vector<std::string>& Migrations() {
  static const auto* migrations = new std::vector<std::string>{
      R"sql(
CREATE TABLE jobs (
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  request_id TEXT NOT NULL,
  state INTEGER NOT NULL,
  priority INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL,
  method TEXT NOT NULL,
  device TEXT NOT NULL,
  device_memory_bytes INTEGER NOT NULL,
  host_memory_bytes INTEGER NOT NULL,
  create_time_ms INTEGER NOT NULL,
  start_time_ms INTEGER NOT NULL,
  end_time_ms INTEGER NOT NULL,
  queued_time_ms INTEGER NOT NULL,
  not_before_ms INTEGER NOT NULL,
  deadline_ms INTEGER NOT NULL,
  worker_id TEXT NOT NULL,
  fencing_token INTEGER NOT NULL,
  lease_expiry_ms INTEGER NOT NULL,
  cancel_requested INTEGER NOT NULL,
  cancel_deadline_ms INTEGER NOT NULL,
  last_sequence INTEGER NOT NULL,
  spec BLOB NOT NULL,
  progress BLOB NOT NULL,
  result BLOB NOT NULL,
  error BLOB NOT NULL,
  UNIQUE (tenant, request_id));
CREATE INDEX jobs_queue ON jobs (state, priority DESC, id);
CREATE INDEX jobs_tenant ON jobs (tenant, id);
CREATE INDEX jobs_worker ON jobs (worker_id, state);
CREATE TABLE job_labels (
  job_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (job_id, key)) WITHOUT ROWID;
CREATE TABLE job_inputs (
  job_id TEXT NOT NULL, blob TEXT NOT NULL,
  PRIMARY KEY (job_id, blob)) WITHOUT ROWID;
CREATE TABLE events (
  job_id TEXT NOT NULL, sequence INTEGER NOT NULL, time_ms INTEGER NOT NULL,
  payload BLOB NOT NULL,
  PRIMARY KEY (job_id, sequence)) WITHOUT ROWID;
CREATE TABLE artifacts (
  job_id TEXT NOT NULL, name TEXT NOT NULL, blob TEXT NOT NULL,
  size_bytes INTEGER NOT NULL, kind TEXT NOT NULL,
  create_time_ms INTEGER NOT NULL,
  PRIMARY KEY (job_id, name)) WITHOUT ROWID;
CREATE INDEX artifacts_blob ON artifacts (blob);
CREATE TABLE workers (
  id TEXT PRIMARY KEY, capabilities BLOB NOT NULL, device_kinds TEXT NOT NULL,
  device_memory_bytes INTEGER NOT NULL, host_memory_bytes INTEGER NOT NULL,
  methods TEXT NOT NULL, max_concurrent_jobs INTEGER NOT NULL,
  registered_time_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL);
CREATE TABLE blobs (
  blob TEXT PRIMARY KEY, size_bytes INTEGER NOT NULL, kind TEXT NOT NULL,
  create_time_ms INTEGER NOT NULL);
)sql",
  };
  return *migrations;
}

}  // namespace

int SqliteSchemaVersion() { return static_cast<int>(Migrations().size()); }

absl::Status MigrateSqlite(SqliteDb& db) {
  QUANTD_RETURN_IF_ERROR(db.Exec(
      "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"));
  SqliteTransaction txn(&db);
  QUANTD_RETURN_IF_ERROR(txn.Begin());
  int64_t version = 0;
  {
    QUANTD_ASSIGN_OR_RETURN(auto select,
                            db.Prepare("SELECT version FROM schema_version"));
    QUANTD_ASSIGN_OR_RETURN(bool row, select.Step());
    if (row) version = select.Int(0);
    if (!row) {
      QUANTD_RETURN_IF_ERROR(
          db.Exec("INSERT INTO schema_version (version) VALUES (0)"));
    }
  }
  const int64_t known = SqliteSchemaVersion();
  if (version > known) {
    return absl::FailedPreconditionError(
        absl::StrCat("store: database schema version ", version,
                     " is newer than this quantd's (", known, ")"));
  }
  for (int64_t v = version; v < known; ++v) {
    QUANTD_RETURN_IF_ERROR(
        Annotate(db.Exec(Migrations()[static_cast<size_t>(v)]),
                 absl::StrCat("store: migration ", v + 1)));
  }
  QUANTD_ASSIGN_OR_RETURN(auto update,
                          db.Prepare("UPDATE schema_version SET version = ?"));
  QUANTD_RETURN_IF_ERROR(update.Bind(1, known).Run());
  return txn.Commit();
}

}  // namespace quantd::store::internal
