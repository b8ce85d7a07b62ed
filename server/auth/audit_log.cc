#include "server/auth/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace quantd::auth {
namespace {

// Client-supplied strings (job ids) are cut to this many bytes.
constexpr size_t kMaxFieldBytes = 128;

std::string Clip(const std::string& text) {
  return text.size() <= kMaxFieldBytes ? text : text.substr(0, kMaxFieldBytes);
}

}  // namespace

std::string CodeName(absl::StatusCode code) {
  std::string name = absl::StatusCodeToString(code);
  for (char& c : name) c = c == ' ' ? '_' : absl::ascii_toupper(c);
  return name;
}

absl::StatusOr<AuditLog::File> AuditLog::OpenFile(const std::string& path) {
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("audit log: cannot open ", path, ": ", strerror(errno)));
  }
  std::FILE* file = ::fdopen(fd, "a");
  if (file == nullptr) {
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("audit log: fdopen ", path));
  }
  return File(file);
}

AuditLog::AuditLog(std::string path, std::shared_ptr<spdlog::logger> log,
                   Clock clock, File file)
    : path_(std::move(path)),
      log_(std::move(log)),
      clock_(std::move(clock)),
      file_(std::move(file)) {}

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(
    std::string path, std::shared_ptr<spdlog::logger> log, Clock clock) {
  auto file = OpenFile(path);
  if (!file.ok()) return file.status();
  return std::unique_ptr<AuditLog>(new AuditLog(
      std::move(path), std::move(log), std::move(clock), std::move(*file)));
}

absl::Status AuditLog::Reopen() {
  auto file = OpenFile(path_);
  if (!file.ok()) return file.status();
  absl::MutexLock lock(&mu_);
  file_ = std::move(*file);
  failing_ = false;
  return absl::OkStatus();
}

void AuditLog::Record(const AuditRecord& record) {
  nlohmann::json line = {
      {"time",
       absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", clock_(), absl::UTCTimeZone())},
      {"rpc", record.rpc},
      {"tenant", Clip(record.tenant)},
      {"token_id", record.token_id},
      {"peer", Clip(record.peer)},
      {"job_id", Clip(record.job_id)},
      {"outcome", record.outcome}};
  if (!record.reason.empty()) line["reason"] = record.reason;
  if (!record.detail.empty()) line["detail"] = Clip(record.detail);
  const std::string text =
      line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
      "\n";
  absl::MutexLock lock(&mu_);
  const bool ok =
      std::fwrite(text.data(), 1, text.size(), file_.get()) == text.size() &&
      std::fflush(file_.get()) == 0;
  if (!ok && !failing_ && log_ != nullptr) {
    log_->error("audit log: cannot write {}", path_);
  }
  failing_ = !ok;
}

}  // namespace quantd::auth
