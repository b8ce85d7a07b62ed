// OpenPostgresStore for builds without QUANTD_POSTGRES.
#include "server/store/store_factory.h"

namespace quantd::store {

absl::StatusOr<std::unique_ptr<JobStore>> OpenPostgresStore(
    const std::string& dsn) {
  return absl::FailedPreconditionError(
      "store.backend: this quantd was built without PostgreSQL "
      "(configure with -DQUANTD_POSTGRES=ON)");
}

}  // namespace quantd::store
