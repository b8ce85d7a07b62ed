#include "server/store/postgres_schema.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace quantd::store::internal {
namespace {

constexpr int64_t kMigrationLock = 0x71756e7464;  // "quntd"

// Append only: a released migration never changes.
constexpr char kSchemaV1[] = R"sql(
CREATE TABLE jobs (
  id TEXT COLLATE "C" PRIMARY KEY, tenant TEXT NOT NULL,
  request_id TEXT NOT NULL, state INTEGER NOT NULL, priority INTEGER NOT NULL,
  attempt BIGINT NOT NULL, max_attempts BIGINT NOT NULL, method TEXT NOT NULL,
  device TEXT NOT NULL, device_memory_bytes BIGINT NOT NULL,
  host_memory_bytes BIGINT NOT NULL, create_time_ms BIGINT NOT NULL,
  start_time_ms BIGINT NOT NULL, end_time_ms BIGINT NOT NULL,
  queued_time_ms BIGINT NOT NULL, not_before_ms BIGINT NOT NULL,
  deadline_ms BIGINT NOT NULL, worker_id TEXT NOT NULL,
  fencing_token BIGINT NOT NULL, lease_expiry_ms BIGINT NOT NULL,
  cancel_requested BIGINT NOT NULL, cancel_deadline_ms BIGINT NOT NULL,
  last_sequence BIGINT NOT NULL, spec BYTEA NOT NULL, progress BYTEA NOT NULL,
  result BYTEA NOT NULL, error BYTEA NOT NULL,
  UNIQUE (tenant, request_id));
CREATE INDEX jobs_queue ON jobs (state, priority DESC, id);
CREATE INDEX jobs_tenant ON jobs (tenant, id);
CREATE INDEX jobs_worker ON jobs (worker_id, state);
CREATE TABLE job_labels (job_id TEXT NOT NULL, key TEXT NOT NULL,
  value TEXT NOT NULL, PRIMARY KEY (job_id, key));
CREATE TABLE job_inputs (job_id TEXT NOT NULL, blob TEXT NOT NULL,
  PRIMARY KEY (job_id, blob));
CREATE TABLE events (job_id TEXT NOT NULL, sequence BIGINT NOT NULL,
  time_ms BIGINT NOT NULL, payload BYTEA NOT NULL,
  PRIMARY KEY (job_id, sequence));
CREATE TABLE artifacts (job_id TEXT NOT NULL, name TEXT NOT NULL,
  blob TEXT NOT NULL, size_bytes BIGINT NOT NULL, kind TEXT NOT NULL,
  create_time_ms BIGINT NOT NULL, PRIMARY KEY (job_id, name));
CREATE INDEX artifacts_blob ON artifacts (blob);
CREATE TABLE workers (id TEXT PRIMARY KEY, capabilities BYTEA NOT NULL,
  device_kinds TEXT NOT NULL, device_memory_bytes BIGINT NOT NULL,
  host_memory_bytes BIGINT NOT NULL, methods TEXT NOT NULL,
  max_concurrent_jobs BIGINT NOT NULL, registered_time_ms BIGINT NOT NULL,
  last_seen_ms BIGINT NOT NULL);
CREATE TABLE blobs (blob TEXT PRIMARY KEY, size_bytes BIGINT NOT NULL,
  kind TEXT NOT NULL, create_time_ms BIGINT NOT NULL);
)sql";

const std::vector<const char*>& Migrations() {
  static const auto* migrations = new std::vector<const char*>{kSchemaV1};
  return *migrations;
}

}  // namespace

absl::Status MigratePostgres(PgConnection& conn) {
  QUANTD_RETURN_IF_ERROR(
      conn.Exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER "
                "NOT NULL)")
          .status());
  PgTransaction txn(&conn);
  QUANTD_RETURN_IF_ERROR(txn.Begin());
  QUANTD_RETURN_IF_ERROR(conn.Exec("SELECT pg_advisory_xact_lock($1)",
                                   PgParams().Add(kMigrationLock))
                             .status());
  QUANTD_ASSIGN_OR_RETURN(PgResult version,
                          conn.Exec("SELECT version FROM schema_version"));
  const int64_t current = version.rows() ? version.Int(0, 0) : 0;
  const int64_t known = static_cast<int64_t>(Migrations().size());
  if (current > known) {
    return absl::FailedPreconditionError(
        absl::StrCat("store: database schema version ", current,
                     " is newer than this quantd's (", known, ")"));
  }
  for (int64_t v = current; v < known; ++v) {
    QUANTD_RETURN_IF_ERROR(
        Annotate(conn.Exec(Migrations()[static_cast<size_t>(v)]).status(),
                 absl::StrCat("store: migration ", v + 1)));
  }
  if (current == 0) {
    QUANTD_RETURN_IF_ERROR(
        conn.Exec("INSERT INTO schema_version (version) VALUES (0)").status());
  }
  QUANTD_RETURN_IF_ERROR(
      conn.Exec("UPDATE schema_version SET version = $1", PgParams().Add(known))
          .status());
  return txn.Commit();
}

}  // namespace quantd::store::internal
