#include "server/store/postgres_db.h"

#include <libpq-fe.h>

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace quantd::store::internal {
namespace {

absl::Status ErrorFor(pg_result* result, pg_conn* conn,
                      const std::string& context) {
  const char* state = result != nullptr
                          ? PQresultErrorField(result, PG_DIAG_SQLSTATE)
                          : nullptr;
  const std::string sqlstate = state != nullptr ? state : "";
  const std::string message = absl::StrCat(
      "postgres: ", context, ": ",
      result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn));
  if (sqlstate == "23505") return absl::AlreadyExistsError(message);
  if (sqlstate == "40001" || sqlstate == "40P01") {
    return absl::AbortedError(message);
  }
  if (sqlstate.empty() || absl::string_view(sqlstate).substr(0, 2) == "08" ||
      PQstatus(conn) != CONNECTION_OK) {
    return absl::UnavailableError(message);
  }
  return absl::InternalError(message);
}

}  // namespace

PgParams& PgParams::Add(int64_t value) {
  values_.push_back(absl::StrCat(value));
  formats_.push_back(0);
  return *this;
}

PgParams& PgParams::Add(const std::string& text) {
  values_.push_back(text);
  formats_.push_back(0);
  return *this;
}

PgParams& PgParams::AddBytes(const std::string& bytes) {
  values_.push_back(bytes);
  formats_.push_back(1);
  return *this;
}

PgResult::~PgResult() {
  if (result_ != nullptr) PQclear(result_);
}

PgResult::PgResult(PgResult&& other) noexcept
    : result_(std::exchange(other.result_, nullptr)) {}

int PgResult::rows() const { return PQntuples(result_); }

int64_t PgResult::affected() const {
  int64_t value = 0;
  if (!absl::SimpleAtoi(PQcmdTuples(result_), &value)) return 0;
  return value;
}

std::string PgResult::Text(int row, int column) const {
  return std::string(PQgetvalue(result_, row, column),
                     static_cast<size_t>(PQgetlength(result_, row, column)));
}

int64_t PgResult::Int(int row, int column) const {
  int64_t value = 0;
  if (!absl::SimpleAtoi(PQgetvalue(result_, row, column), &value)) return 0;
  return value;
}

std::string PgResult::Bytes(int row, int column) const {
  size_t size = 0;
  unsigned char* raw = PQunescapeBytea(
      reinterpret_cast<const unsigned char*>(PQgetvalue(result_, row, column)),
      &size);
  if (raw == nullptr) return "";
  std::string bytes(reinterpret_cast<const char*>(raw), size);
  PQfreemem(raw);
  return bytes;
}

absl::StatusOr<std::unique_ptr<PgConnection>> PgConnection::Open(
    const std::string& dsn) {
  pg_conn* conn = PQconnectdb(dsn.c_str());
  std::unique_ptr<PgConnection> connection(new PgConnection(conn, dsn));
  if (PQstatus(conn) != CONNECTION_OK) {
    return absl::UnavailableError(
        absl::StrCat("postgres: cannot connect: ", PQerrorMessage(conn)));
  }
  return connection;
}

PgConnection::~PgConnection() { PQfinish(conn_); }

absl::Status PgConnection::EnsureConnected() {
  if (PQstatus(conn_) == CONNECTION_OK) return absl::OkStatus();
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    return absl::UnavailableError(
        absl::StrCat("postgres: reconnect failed: ", PQerrorMessage(conn_)));
  }
  return absl::OkStatus();
}

absl::StatusOr<PgResult> PgConnection::Exec(const std::string& sql,
                                            const PgParams& params) {
  std::vector<const char*> values;
  std::vector<int> lengths;
  for (const std::string& value : params.values_) {
    values.push_back(value.data());
    lengths.push_back(static_cast<int>(value.size()));
  }
  // Without parameters PQexec runs scripts of several statements too.
  pg_result* raw =
      params.size() == 0
          ? PQexec(conn_, sql.c_str())
          : PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()),
                         nullptr, values.data(), lengths.data(),
                         params.formats_.data(), /*resultFormat=*/0);
  PgResult result(raw);  // Owns raw from here on.
  const ExecStatusType status = PQresultStatus(raw);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return ErrorFor(raw, conn_, sql.substr(0, 60));
  }
  return result;
}

absl::Status PgTransaction::Begin() {
  absl::Status status = conn_->Exec("BEGIN").status();
  open_ = status.ok();
  return status;
}

absl::Status PgTransaction::Commit() {
  absl::Status status = conn_->Exec("COMMIT").status();
  if (status.ok()) open_ = false;
  return status;
}

PgTransaction::~PgTransaction() {
  if (open_) conn_->Exec("ROLLBACK").IgnoreError();
}

}  // namespace quantd::store::internal
