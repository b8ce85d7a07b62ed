#include "server/store/sqlite_store.h"

#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/status.h"
#include "server/store/sqlite_db.h"
#include "server/store/sqlite_schema.h"

namespace quantd::store {
namespace {

using internal::SqliteStatement;
using internal::SqlParams;

class SqliteDialect final : public internal::SqlDialect {
 public:
  // SQLite's ?NNN binds like PostgreSQL's $NNN; the core's SQL has no other
  // '$'.
  std::string BindMarkers(absl::string_view sql) const override {
    return absl::StrReplaceAll(sql, {{"$", "?"}});
  }
  // Takes the database's write lock at once, so transactions queue here
  // rather than fail with SQLITE_BUSY when they first write.
  absl::string_view BeginTransaction() const override {
    return "BEGIN IMMEDIATE";
  }
  // The write lock is the whole database's: rows need no locks of their own
  // and submitters of one tenant are already serialised.
  absl::string_view LockRowForUpdate() const override { return ""; }
  absl::string_view LockRowForClaim() const override { return ""; }
  absl::string_view LockTenant() const override { return ""; }
  std::string ListContains(absl::string_view list,
                           absl::string_view item) const override {
    return absl::StrCat("instr(", list, ", ',' || ", item, " || ',') > 0");
  }
  // SQLite's default collation, BINARY, is byte order.
  std::string ByteOrder(absl::string_view column) const override {
    return std::string(column);
  }
};

// A row of a stepped statement. SQLite returns a BLOB's bytes as they are.
class SqliteRow final : public internal::SqlRow {
 public:
  explicit SqliteRow(const SqliteStatement& stmt) : stmt_(stmt) {}
  int64_t Int(int column) const override { return stmt_.Int(column); }
  std::string Text(int column) const override { return stmt_.Text(column); }
  std::string Bytes(int column) const override { return stmt_.Text(column); }

 private:
  const SqliteStatement& stmt_;
};

class SqliteConnection final : public internal::SqlConnection {
 public:
  explicit SqliteConnection(std::unique_ptr<internal::SqliteDb> db)
      : db_(std::move(db)) {}

  // An embedded database is always there.
  absl::Status Ready() override { return absl::OkStatus(); }

  absl::StatusOr<int64_t> Execute(
      const std::string& sql, const SqlParams& params,
      const internal::RowCallback& on_row) override {
    QUANTD_ASSIGN_OR_RETURN(SqliteStatement stmt, db_->Prepare(sql));
    int index = 1;
    for (const SqlParams::Value& value : params.values()) {
      switch (value.type) {
        case SqlParams::Type::kInteger:
          stmt.Bind(index++, value.integer);
          break;
        case SqlParams::Type::kText:
          stmt.Bind(index++, value.bytes);
          break;
        case SqlParams::Type::kBytes:
          stmt.BindBlob(index++, value.bytes);
          break;
      }
    }
    const SqliteRow row(stmt);
    while (true) {
      QUANTD_ASSIGN_OR_RETURN(bool more, stmt.Step());
      if (!more) break;
      if (on_row) on_row(row);
    }
    return db_->Changes();
  }

 private:
  std::unique_ptr<internal::SqliteDb> db_;
};

}  // namespace

SqliteJobStore::SqliteJobStore(std::unique_ptr<internal::SqlConnection> conn,
                               std::string path)
    : SqlStoreCore(std::move(conn), std::make_unique<SqliteDialect>()),
      path_(std::move(path)) {}

absl::StatusOr<std::unique_ptr<SqliteJobStore>> SqliteJobStore::Open(
    const SqliteOptions& options) {
  QUANTD_ASSIGN_OR_RETURN(auto db, internal::SqliteDb::Open(options.path));
  QUANTD_RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode = WAL"));
  QUANTD_RETURN_IF_ERROR(db->Exec(options.synchronous_full
                                      ? "PRAGMA synchronous = FULL"
                                      : "PRAGMA synchronous = NORMAL"));
  QUANTD_RETURN_IF_ERROR(internal::MigrateSqlite(*db));
  return std::unique_ptr<SqliteJobStore>(new SqliteJobStore(
      std::make_unique<SqliteConnection>(std::move(db)), options.path));
}

absl::Status SqliteJobStore::Ping() {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path_, error)) {
    return absl::UnavailableError(
        absl::StrCat("store: database file ", path_, " is gone"));
  }
  return SqlStoreCore::Ping();
}

}  // namespace quantd::store
