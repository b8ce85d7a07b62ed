// Opens the JobStore backend the configuration names. PostgreSQL is
// available when quantd was built with QUANTD_POSTGRES; otherwise asking
// for it is FailedPrecondition.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/store/job_store.h"

namespace quantd::store {

struct StoreOptions {
  // "sqlite" or "postgres".
  std::string backend = "sqlite";
  std::string sqlite_path;
  bool sqlite_synchronous_full = true;
  // libpq connection string, e.g. "host=127.0.0.1 port=5432 dbname=quantd".
  std::string postgres_dsn;
};

[[nodiscard]] absl::StatusOr<std::unique_ptr<JobStore>> OpenStore(
    const StoreOptions& options);

// Defined by postgres_store.cc, or by postgres_disabled.cc when quantd is
// built without PostgreSQL.
[[nodiscard]] absl::StatusOr<std::unique_ptr<JobStore>> OpenPostgresStore(
    const std::string& dsn);

}  // namespace quantd::store
