// The SQLite JobStore's schema and its migrations. The schema_version table
// holds the number of migrations applied; opening a database applies the
// missing ones in one transaction, so an older file upgrades in place and a
// newer one (from a later quantd) is refused.
#pragma once

#include "absl/status/status.h"
#include "server/store/sqlite_db.h"

namespace quantd::store::internal {

// Number of migrations this build knows.
int SqliteSchemaVersion();

// Brings `db` to SqliteSchemaVersion(); FailedPrecondition when the file was
// written by a newer schema.
[[nodiscard]] absl::Status MigrateSqlite(SqliteDb& db);

}  // namespace quantd::store::internal
