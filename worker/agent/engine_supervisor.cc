#include "worker/agent/engine_supervisor.h"

#include <signal.h>

#include <utility>

namespace quantd::agent {

EngineSupervisor::EngineSupervisor(SupervisorOptions options)
    : options_(std::move(options)) {}

absl::StatusOr<ExitStatus> EngineSupervisor::Run(const LineCallback& on_line) {
  ChildProcess* child = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (kill_at_.has_value()) {
      return absl::CancelledError("stopped before the engine started");
    }
    auto spawned = ChildProcess::Spawn(options_.spawn);
    if (!spawned.ok()) return spawned.status();
    child_ = *std::move(spawned);
    child = child_.get();
  }
  std::optional<LineReader> reader;
  if (child->pipe_fd() >= 0) {
    reader.emplace(child->pipe_fd(), options_.max_line_bytes);
  }
  std::optional<ExitStatus> status;
  while (true) {
    if (reader.has_value()) {
      ReadBatch batch = reader->Read(options_.poll_interval);
      for (const Line& line : batch.lines) on_line(line);
      if (batch.eof) {
        reader.reset();
        child->ClosePipe();
      }
    } else {
      absl::SleepFor(options_.poll_interval);
    }
    EnforceDeadline();
    // Polled even while the pipe is open: a grandchild holding the pipe
    // must not keep the job alive after the engine itself exited (reaping
    // the leader kills the rest of its group, which closes the pipe).
    if (!status.has_value()) status = child->TryWait();
    if (status.has_value() && !reader.has_value()) break;
  }
  WaitForGroupExit(*child);
  return *status;
}

void EngineSupervisor::WaitForGroupExit(ChildProcess& child) {
  const absl::Time give_up = absl::Now() + options_.group_exit_timeout;
  while (true) {
    child.ReapGroupMembers();
    if (!ProcessGroupExists(child.pid()) || absl::Now() >= give_up) return;
    absl::SleepFor(absl::Milliseconds(10));
  }
}

void EngineSupervisor::Terminate(absl::Duration grace) {
  absl::MutexLock lock(&mu_);
  const absl::Time deadline = absl::Now() + grace;
  const bool first = !kill_at_.has_value();
  if (first || deadline < *kill_at_) kill_at_ = deadline;
  if (child_ == nullptr) return;
  if (grace <= absl::ZeroDuration()) {
    child_->SignalGroup(SIGKILL);
    killed_ = true;
  } else if (first) {
    child_->SignalGroup(SIGTERM);
  }
}

void EngineSupervisor::EnforceDeadline() {
  absl::MutexLock lock(&mu_);
  if (!kill_at_.has_value() || killed_ || child_ == nullptr) return;
  if (absl::Now() < *kill_at_) return;
  child_->SignalGroup(SIGKILL);
  killed_ = true;
}

bool EngineSupervisor::stop_requested() const {
  absl::MutexLock lock(&mu_);
  return kill_at_.has_value();
}

std::optional<pid_t> EngineSupervisor::pgid() const {
  absl::MutexLock lock(&mu_);
  if (child_ == nullptr) return std::nullopt;
  return child_->pid();
}

}  // namespace quantd::agent
