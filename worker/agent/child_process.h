// ChildProcess: a program started with fork/exec in its own process group,
// so that one signal reaches it and everything it started, with its output
// sent to a file, an optional pipe on a chosen descriptor and resource
// limits applied in the child before exec.
//
// Reaping keeps the group's id pinned: the leader is reaped only after the
// rest of its group has been sent SIGKILL, so a stray grandchild can never
// outlive the engine and a recycled process-group id is never signalled.
//
// Thread-safety: SignalGroup() may be called from any thread; TryWait(),
// Wait() and the pipe belong to one thread (the supervisor's).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "worker/agent/unique_fd.h"

namespace quantd::agent {

// How a child ended.
struct ExitStatus {
  // true: a signal ended it; `signal` says which. false: it exited with
  // `code`.
  bool signaled = false;
  int code = 0;
  int signal = 0;

  // The shell's convention: the exit code, or 128 + signal (143 = SIGTERM).
  int AsInt() const { return signaled ? 128 + signal : code; }
  bool Succeeded() const { return !signaled && code == 0; }
  // "exit status 3" or "killed by signal 9 (Killed)".
  std::string Describe() const;
};

struct SpawnOptions {
  // argv[0] is the program; a name without '/' is looked up on PATH.
  std::vector<std::string> argv;
  // Descriptor number in the child that becomes the write end of a pipe
  // whose read end the parent gets from pipe_fd(); -1: no pipe. 1 captures
  // stdout.
  int pipe_child_fd = -1;
  // File that receives the child's stdout and stderr (created 0644,
  // appended); empty: /dev/null.
  std::string output_path;
  // RLIMIT_AS in bytes; 0 leaves the inherited limit.
  uint64_t max_address_space_bytes = 0;
  // RLIMIT_NOFILE; 0 leaves the inherited limit.
  uint64_t max_open_files = 0;
  // SIGKILL the child when the thread that spawned it ends (the kernel's
  // "parent death" is the death of that thread, so Spawn() must be called
  // from a thread that outlives the child, as EngineSupervisor::Run does).
  bool kill_with_parent = false;
};

class ChildProcess {
 public:
  // Starts the child. Fails if the program cannot be executed (the error
  // names it and carries errno's text), the output file cannot be opened,
  // or fork fails.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ChildProcess>> Spawn(
      const SpawnOptions& options);

  // Kills the group with SIGKILL and reaps the leader if still running.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The leader's pid, which is also the group's id.
  pid_t pid() const { return pid_; }
  // Read end of the pipe, or -1.
  int pipe_fd() const { return pipe_.get(); }
  void ClosePipe() { pipe_.Reset(); }

  // Sends `signal` to every process in the group; a no-op once reaped.
  void SignalGroup(int signal);
  // Returns the exit status once the leader has exited (the group's other
  // members are then killed and the leader reaped), nullopt while it runs.
  std::optional<ExitStatus> TryWait();
  // Blocks until the leader exits; same cleanup as TryWait().
  ExitStatus Wait();
  // Reaps members of the group that were reparented to this process (see
  // BecomeChildSubreaper) and have exited.
  void ReapGroupMembers();

 private:
  ChildProcess(pid_t pid, UniqueFd pipe) : pid_(pid), pipe_(std::move(pipe)) {}
  // Waits for the leader to exit, kills the rest of its group, reaps it.
  ExitStatus Reap();

  const pid_t pid_;
  UniqueFd pipe_;
  // Held while signalling and while reaping, so that a signal never reaches
  // a reaped (and possibly recycled) group id.
  absl::Mutex mu_;
  bool reaped_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<ExitStatus> status_;
};

// Makes this process the reaper of its descendants' orphans, so that
// grandchildren of an engine are reparented here (and reaped by
// ReapGroupMembers) instead of to init. Call once at startup.
[[nodiscard]] absl::Status BecomeChildSubreaper();

// True while any process (zombies included) belongs to group `pgid`.
bool ProcessGroupExists(pid_t pgid);

}  // namespace quantd::agent
