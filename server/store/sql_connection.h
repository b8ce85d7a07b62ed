// SqlConnection: what the shared store core (sql_store_core.h) needs of a
// database connection — run one statement with typed parameters and read
// its rows — so that each backend supplies only its connection handling,
// type mapping and error mapping.
//
// Thread-safety: none; the store core serialises access to a connection.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace quantd::store::internal {

// The parameters of one statement, bound to $1, $2, ... in order.
class SqlParams {
 public:
  // How a value is stored: integer, text, or opaque bytes (BLOB/BYTEA).
  enum class Type { kInteger, kText, kBytes };
  struct Value {
    Type type;
    int64_t integer = 0;
    // The text or the bytes.
    std::string bytes;
  };

  SqlParams& Add(int64_t value) {
    values_.push_back({Type::kInteger, value, {}});
    return *this;
  }
  SqlParams& Add(std::string text) {
    values_.push_back({Type::kText, 0, std::move(text)});
    return *this;
  }
  SqlParams& AddBytes(std::string bytes) {
    values_.push_back({Type::kBytes, 0, std::move(bytes)});
    return *this;
  }

  const std::vector<Value>& values() const { return values_; }
  size_t size() const { return values_.size(); }

 private:
  std::vector<Value> values_;
};

// One row of a result, valid only during the callback that receives it.
// Column indexes start at 0.
class SqlRow {
 public:
  virtual ~SqlRow() = default;
  virtual int64_t Int(int column) const = 0;
  virtual std::string Text(int column) const = 0;
  // A column stored as bytes (SqlParams::AddBytes).
  virtual std::string Bytes(int column) const = 0;
};

using RowCallback = std::function<void(const SqlRow& row)>;

class SqlConnection {
 public:
  virtual ~SqlConnection() = default;

  // Called before each store call, outside any transaction: makes the
  // connection usable (PostgreSQL reconnects once the server is back) or
  // fails with Unavailable.
  [[nodiscard]] virtual absl::Status Ready() = 0;

  // Runs one statement, already in this backend's dialect, and calls
  // `on_row` (unless empty) for each row it returns. Returns the rows an
  // INSERT, UPDATE or DELETE changed (unspecified for other statements). Errors
  // are mapped to canonical codes by the backend (AlreadyExists for a broken
  // constraint, Unavailable when the database cannot be reached, ...).
  [[nodiscard]] virtual absl::StatusOr<int64_t> Execute(
      const std::string& sql, const SqlParams& params,
      const RowCallback& on_row) = 0;
};

}  // namespace quantd::store::internal
