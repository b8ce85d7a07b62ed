#include "server/store/store_factory.h"

#include "common/status.h"
#include "server/store/sqlite_store.h"

namespace quantd::store {

absl::StatusOr<std::unique_ptr<JobStore>> OpenStore(
    const StoreOptions& options) {
  if (options.backend == "sqlite") {
    QUANTD_ASSIGN_OR_RETURN(
        auto store, SqliteJobStore::Open(
                        {.path = options.sqlite_path,
                         .synchronous_full = options.sqlite_synchronous_full}));
    return std::unique_ptr<JobStore>(std::move(store));
  }
  if (options.backend == "postgres") {
    if (options.postgres_dsn.empty()) {
      return InvalidFieldError("store.postgres_dsn", "required for postgres");
    }
    return OpenPostgresStore(options.postgres_dsn);
  }
  return InvalidFieldError("store.backend", "must be sqlite or postgres");
}

}  // namespace quantd::store
