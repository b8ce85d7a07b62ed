#include "server/store/postgres_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "server/store/postgres_db.h"
#include "server/store/postgres_schema.h"
#include "server/store/store_factory.h"

namespace quantd::store {
namespace {

using internal::PgParams;
using internal::PgResult;
using internal::SqlParams;

class PostgresDialect final : public internal::SqlDialect {
 public:
  std::string BindMarkers(absl::string_view sql) const override {
    return std::string(sql);
  }
  absl::string_view BeginTransaction() const override { return "BEGIN"; }
  absl::string_view LockRowForUpdate() const override { return " FOR UPDATE"; }
  // Replicas skip rows another one is claiming instead of waiting on them.
  absl::string_view LockRowForClaim() const override {
    return " FOR UPDATE SKIP LOCKED";
  }
  // One submitter per tenant at a time, across replicas; released at the
  // end of the transaction.
  absl::string_view LockTenant() const override {
    return "SELECT pg_advisory_xact_lock(hashtext($1))";
  }
  std::string ListContains(absl::string_view list,
                           absl::string_view item) const override {
    return absl::StrCat("position(',' || ", item, " || ',' in ", list, ") > 0");
  }
  // The database's collation may follow a locale; "C" is byte order.
  std::string ByteOrder(absl::string_view column) const override {
    return absl::StrCat(column, " COLLATE \"C\"");
  }
};

// A row of a result. libpq returns every value as text, bytea hex-encoded.
class PgRow final : public internal::SqlRow {
 public:
  explicit PgRow(const PgResult& result) : result_(result) {}
  void set_row(int row) { row_ = row; }
  int64_t Int(int column) const override { return result_.Int(row_, column); }
  std::string Text(int column) const override {
    return result_.Text(row_, column);
  }
  std::string Bytes(int column) const override {
    return result_.Bytes(row_, column);
  }

 private:
  const PgResult& result_;
  int row_ = 0;
};

class PgSqlConnection final : public internal::SqlConnection {
 public:
  explicit PgSqlConnection(std::unique_ptr<internal::PgConnection> conn)
      : conn_(std::move(conn)) {}

  absl::Status Ready() override { return conn_->EnsureConnected(); }

  absl::StatusOr<int64_t> Execute(
      const std::string& sql, const SqlParams& params,
      const internal::RowCallback& on_row) override {
    PgParams pg_params;
    for (const SqlParams::Value& value : params.values()) {
      switch (value.type) {
        case SqlParams::Type::kInteger:
          pg_params.Add(value.integer);
          break;
        case SqlParams::Type::kText:
          pg_params.Add(value.bytes);
          break;
        case SqlParams::Type::kBytes:
          pg_params.AddBytes(value.bytes);
          break;
      }
    }
    QUANTD_ASSIGN_OR_RETURN(PgResult result, conn_->Exec(sql, pg_params));
    PgRow row(result);
    for (int i = 0; on_row && i < result.rows(); ++i) {
      row.set_row(i);
      on_row(row);
    }
    return result.affected();
  }

 private:
  std::unique_ptr<internal::PgConnection> conn_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<JobStore>> OpenPostgresStore(
    const std::string& dsn) {
  QUANTD_ASSIGN_OR_RETURN(auto store, PostgresJobStore::Open(dsn));
  return std::unique_ptr<JobStore>(std::move(store));
}

PostgresJobStore::PostgresJobStore(
    std::unique_ptr<internal::SqlConnection> conn)
    : SqlStoreCore(std::move(conn), std::make_unique<PostgresDialect>()) {}

absl::StatusOr<std::unique_ptr<PostgresJobStore>> PostgresJobStore::Open(
    const std::string& dsn) {
  QUANTD_ASSIGN_OR_RETURN(auto conn, internal::PgConnection::Open(dsn));
  QUANTD_RETURN_IF_ERROR(
      conn->Exec("SET client_min_messages = warning").status());
  QUANTD_RETURN_IF_ERROR(internal::MigratePostgres(*conn));
  return std::unique_ptr<PostgresJobStore>(
      new PostgresJobStore(std::make_unique<PgSqlConnection>(std::move(conn))));
}

}  // namespace quantd::store
