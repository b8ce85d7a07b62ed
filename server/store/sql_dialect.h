// SqlDialect: the places where SQLite's and PostgreSQL's SQL differ, as
// hooks the shared store core (sql_store_core.h) asks when it builds a
// statement. Everything else the core writes once, in SQL both accept
// (upserts are INSERT ... ON CONFLICT, which SQLite has since 3.24).
//
// Thread-safety: implementations are stateless and safe from any thread.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace quantd::store::internal {

class SqlDialect {
 public:
  virtual ~SqlDialect() = default;

  // `sql` with the core's parameter markers ($1, $2, ...; a number may
  // appear more than once and binds the same value) spelled as this dialect
  // expects. The core writes '$' nowhere else.
  virtual std::string BindMarkers(absl::string_view sql) const = 0;

  // Opens a transaction that may write.
  virtual absl::string_view BeginTransaction() const = 0;

  // Appended to the SELECT that reads a job before changing it (with its
  // leading space), so that concurrent writers of that job queue behind
  // this one; "" where the transaction already holds the only write lock.
  virtual absl::string_view LockRowForUpdate() const = 0;

  // Appended to the claim's SELECT: like LockRowForUpdate(), but a row that
  // another replica is claiming is skipped instead of waited for.
  virtual absl::string_view LockRowForClaim() const = 0;

  // A statement that serialises CreateJob per tenant ($1 = tenant) for the
  // rest of the transaction, so that the queue limit and the idempotency
  // check see each other's rows; "" where the transaction already does.
  virtual absl::string_view LockTenant() const = 0;

  // A condition that is true when `list`, a ",a,b," string, holds the value
  // of `item` (both are SQL expressions).
  virtual std::string ListContains(absl::string_view list,
                                   absl::string_view item) const = 0;

  // An ORDER BY term sorting the text `column` by its bytes, whatever the
  // database's collation.
  virtual std::string ByteOrder(absl::string_view column) const = 0;
};

}  // namespace quantd::store::internal
