// AuditLog: one JSON line per state-changing call and per refused call, in
// its own append-only file (mode 0600), so "who did what to which job, and
// did it work" survives independently of the debug logs:
//
//   {"time":"2026-05-01T12:00:00.123Z","rpc":"JobService.CancelJob",
//    "tenant":"acme","token_id":"9f86d081","peer":"ipv4:10.0.0.7:51234",
//    "job_id":"j-01J...","outcome":"OK"}
//
// Optional keys: "reason" (why a call was refused: unknown_token,
// expired_token, revoked_token, missing_token, malformed_token, role,
// client_certificate, not_visible) and "detail" (a blob reference, a worker
// id). Never a token, a message body or an error text.
//
// Thread-safety: Record() and Reopen() are safe from any thread; lines are
// written whole and flushed one at a time.
#pragma once

#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "spdlog/logger.h"

namespace quantd::auth {

struct AuditRecord {
  // "JobService.SubmitJob".
  std::string rpc;
  std::string tenant;
  std::string token_id;
  // gRPC peer string ("ipv4:127.0.0.1:51234").
  std::string peer;
  std::string job_id;
  // Canonical code name: "OK", "PERMISSION_DENIED", ...
  std::string outcome;
  std::string reason;
  std::string detail;
};

class AuditLog {
 public:
  using Clock = std::function<absl::Time()>;

  // Opens (creating, mode 0600) `path` for appending. `log` receives write
  // failures, once per run of failures.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<AuditLog>> Open(
      std::string path, std::shared_ptr<spdlog::logger> log,
      Clock clock = absl::Now);

  void Record(const AuditRecord& record);
  // Reopens the file by name, for log rotation (SIGHUP after a rename).
  [[nodiscard]] absl::Status Reopen();

  const std::string& path() const { return path_; }

 private:
  struct FileCloser {
    void operator()(std::FILE* file) const { std::fclose(file); }
  };
  using File = std::unique_ptr<std::FILE, FileCloser>;

  AuditLog(std::string path, std::shared_ptr<spdlog::logger> log, Clock clock,
           File file);
  static absl::StatusOr<File> OpenFile(const std::string& path);

  const std::string path_;
  std::shared_ptr<spdlog::logger> log_;
  const Clock clock_;
  absl::Mutex mu_;
  File file_ ABSL_GUARDED_BY(mu_);
  bool failing_ ABSL_GUARDED_BY(mu_) = false;
};

// "PERMISSION_DENIED" for absl::StatusCode::kPermissionDenied.
std::string CodeName(absl::StatusCode code);

}  // namespace quantd::auth
