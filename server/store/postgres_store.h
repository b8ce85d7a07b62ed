// The PostgreSQL JobStore, for several scheduler replicas sharing one
// database: claims take the row with FOR UPDATE SKIP LOCKED so replicas
// never hand out the same job, changes to a job lock its row, and a
// tenant's queue limit is checked under a per-tenant advisory lock. The
// store logic is SqlStoreCore's; this file adds the connection and the
// dialect.
//
// Thread-safety: safe from any thread; calls are serialised on one
// connection per store (run more replicas for more throughput).
#pragma once

#include <memory>
#include <string>

#include "server/store/sql_store_core.h"

namespace quantd::store {

class PostgresJobStore : public SqlStoreCore {
 public:
  // Connects with the libpq connection string `dsn` and migrates the schema.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<PostgresJobStore>> Open(
      const std::string& dsn);

 private:
  explicit PostgresJobStore(std::unique_ptr<internal::SqlConnection> conn);
};

}  // namespace quantd::store
