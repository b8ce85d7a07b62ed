// The embedded JobStore: one SQLite file in WAL mode under the data
// directory. Every state change is a BEGIN IMMEDIATE transaction, so a
// killed process leaves either the whole change or none of it. The store
// logic is SqlStoreCore's; this file adds how to open the file and ping it.
//
// Thread-safety: safe from any thread; calls are serialised on one
// connection (SQLite has a single writer anyway).
#pragma once

#include <memory>
#include <string>

#include "server/store/sql_store_core.h"

namespace quantd::store {

struct SqliteOptions {
  // Database file; created with its schema when missing.
  std::string path;
  // PRAGMA synchronous: true = FULL (a commit survives power loss), false =
  // NORMAL (survives a process crash, may lose the last commits on power
  // loss). Default true.
  bool synchronous_full = true;
};

class SqliteJobStore : public SqlStoreCore {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<SqliteJobStore>> Open(
      const SqliteOptions& options);

  // Also fails when the database file is no longer at its path (an open
  // connection would keep working on the unlinked file and lose it all at
  // the next restart).
  absl::Status Ping() override;

 private:
  SqliteJobStore(std::unique_ptr<internal::SqlConnection> conn,
                 std::string path);

  const std::string path_;
};

}  // namespace quantd::store
