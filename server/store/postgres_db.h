// Thin RAII wrappers over libpq: a connection that reconnects when the
// server went away, parameterised statements (text parameters, bytea as
// binary), results with typed access, and errors as absl::Status by
// SQLSTATE. Used only by the PostgreSQL JobStore.
//
// Thread-safety: none; the owner serialises access to a connection.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct pg_conn;
struct pg_result;

namespace quantd::store::internal {

class PgParams {
 public:
  PgParams& Add(int64_t value);
  PgParams& Add(const std::string& text);
  // Sent as binary (for bytea columns).
  PgParams& AddBytes(const std::string& bytes);
  size_t size() const { return values_.size(); }

 private:
  friend class PgConnection;
  std::vector<std::string> values_;
  std::vector<int> formats_;
};

class PgResult {
 public:
  explicit PgResult(pg_result* result) : result_(result) {}
  ~PgResult();
  PgResult(PgResult&& other) noexcept;
  PgResult& operator=(PgResult&&) = delete;
  PgResult(const PgResult&) = delete;

  int rows() const;
  // Rows an INSERT/UPDATE/DELETE touched.
  int64_t affected() const;
  std::string Text(int row, int column) const;
  int64_t Int(int row, int column) const;
  // A bytea column (hex text format) decoded.
  std::string Bytes(int row, int column) const;

 private:
  pg_result* result_;
};

class PgConnection {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<PgConnection>> Open(
      const std::string& dsn);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one statement; `params` bind $1, $2, ...
  [[nodiscard]] absl::StatusOr<PgResult> Exec(const std::string& sql,
                                              const PgParams& params = {});
  // Reconnects when the connection broke (outside a transaction).
  [[nodiscard]] absl::Status EnsureConnected();

 private:
  PgConnection(pg_conn* conn, std::string dsn)
      : conn_(conn), dsn_(std::move(dsn)) {}
  pg_conn* conn_;
  std::string dsn_;
};

// BEGIN on Begin(); ROLLBACK on destruction unless Commit() succeeded.
class PgTransaction {
 public:
  explicit PgTransaction(PgConnection* conn) : conn_(conn) {}
  ~PgTransaction();
  PgTransaction(const PgTransaction&) = delete;
  PgTransaction& operator=(const PgTransaction&) = delete;
  [[nodiscard]] absl::Status Begin();
  [[nodiscard]] absl::Status Commit();

 private:
  PgConnection* conn_;
  bool open_ = false;
};

}  // namespace quantd::store::internal
