// The PostgreSQL JobStore's schema and its migrations, applied under an
// advisory lock so replicas starting together migrate one at a time. The
// schema_version table holds the number of migrations applied.
#pragma once

#include "absl/status/status.h"
#include "server/store/postgres_db.h"

namespace quantd::store::internal {

// Brings the database to this build's schema; FailedPrecondition when it
// was written by a newer one.
[[nodiscard]] absl::Status MigratePostgres(PgConnection& conn);

}  // namespace quantd::store::internal
