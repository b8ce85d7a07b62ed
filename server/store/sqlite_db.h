// Thin RAII wrappers over the SQLite C API: a connection, prepared
// statements with typed binding and column access, and errors turned into
// absl::Status. Used only by the SQLite JobStore.
//
// Thread-safety: none; the owner serialises access to a connection.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct sqlite3;
struct sqlite3_stmt;

namespace quantd::store::internal {

class SqliteStatement;

class SqliteDb {
 public:
  // Opens (creating) the database file at `path`.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<SqliteDb>> Open(
      const std::string& path);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Runs one or more statements that return no rows.
  [[nodiscard]] absl::Status Exec(const std::string& sql);
  [[nodiscard]] absl::StatusOr<SqliteStatement> Prepare(const std::string& sql);
  // Rows changed by the most recent INSERT, UPDATE or DELETE.
  int64_t Changes() const;
  // An error status carrying SQLite's message for `code`.
  absl::Status Error(int code, const std::string& context) const;

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

// A prepared statement. Bind indexes start at 1, column indexes at 0.
class SqliteStatement {
 public:
  SqliteStatement(SqliteDb* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~SqliteStatement();
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&&) = delete;
  SqliteStatement(const SqliteStatement&) = delete;

  SqliteStatement& Bind(int index, int64_t value);
  SqliteStatement& Bind(int index, const std::string& value);
  // Binds bytes as a BLOB (Bind(std::string) binds TEXT).
  SqliteStatement& BindBlob(int index, const std::string& value);

  // Advances to the next row: true with a row, false when done.
  [[nodiscard]] absl::StatusOr<bool> Step();
  // Runs a statement that returns no rows.
  [[nodiscard]] absl::Status Run();
  // Makes the statement runnable again with new bindings.
  void Reset();

  int64_t Int(int column) const;
  std::string Text(int column) const;

 private:
  SqliteDb* db_;
  sqlite3_stmt* stmt_;
};

// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless
// Commit() succeeded.
class SqliteTransaction {
 public:
  explicit SqliteTransaction(SqliteDb* db) : db_(db) {}
  ~SqliteTransaction();
  SqliteTransaction(const SqliteTransaction&) = delete;
  SqliteTransaction& operator=(const SqliteTransaction&) = delete;

  [[nodiscard]] absl::Status Begin();
  [[nodiscard]] absl::Status Commit();

 private:
  SqliteDb* db_;
  bool open_ = false;
};

}  // namespace quantd::store::internal
