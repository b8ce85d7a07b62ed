// A throwaway PostgreSQL server for tests: initdb into a temporary
// directory and pg_ctl start on 127.0.0.1 with a free port, from the
// Debian binaries in /usr/lib/postgresql/<version>/bin. PostgreSQL refuses
// to run as root, so as root the server runs as the user "nobody".
//
// Thread-safety: none; create it once per test binary.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace quantd::store {

class PostgresTestServer {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<PostgresTestServer>>
  Start();
  ~PostgresTestServer();

  // A new, empty database; returns its libpq connection string.
  [[nodiscard]] absl::StatusOr<std::string> CreateDatabase();
  // Stops the server immediately (for unreachable-store tests).
  void Stop();

 private:
  PostgresTestServer() = default;
  // Runs a shell command as the server's user; its exit status.
  int Run(const std::string& command) const;

  std::string bin_dir_;
  std::string dir_;
  int port_ = 0;
  int databases_ = 0;
  bool running_ = false;
};

}  // namespace quantd::store
