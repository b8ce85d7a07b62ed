// EngineSupervisor: runs one engine process to its end. It spawns the
// child in its own process group, hands every line of the event pipe to a
// callback, and carries out stop requests made from other threads: a
// graceful stop is SIGTERM to the group then SIGKILL once the grace period
// has passed; a kill is SIGKILL at once. Run() returns only when the engine
// has exited and no process of its group is left (as far as this process
// can reap them; see BecomeChildSubreaper).
//
// Thread-safety: Run() is called once, from one thread; Terminate(),
// Kill(), stop_requested() and pgid() are safe from any thread.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "worker/agent/child_process.h"
#include "worker/agent/line_reader.h"

namespace quantd::agent {

struct SupervisorOptions {
  // How the engine is started; `pipe_child_fd` carries its events.
  SpawnOptions spawn;
  // Longest event line kept; longer lines reach the callback truncated.
  size_t max_line_bytes = 1 << 20;
  // How often deadlines and the exit are checked while the engine is
  // silent.
  absl::Duration poll_interval = absl::Milliseconds(50);
  // After the leader exits, how long to wait for the rest of its group to
  // disappear before giving up (they have been sent SIGKILL).
  absl::Duration group_exit_timeout = absl::Seconds(5);
};

class EngineSupervisor {
 public:
  using LineCallback = std::function<void(const Line& line)>;

  explicit EngineSupervisor(SupervisorOptions options);
  EngineSupervisor(const EngineSupervisor&) = delete;
  EngineSupervisor& operator=(const EngineSupervisor&) = delete;

  // Spawns the engine and blocks until it has exited. Errors: the spawn
  // failed, or CANCELLED when a stop was requested before the start.
  [[nodiscard]] absl::StatusOr<ExitStatus> Run(const LineCallback& on_line);

  // SIGTERM to the group now (or at the start), SIGKILL after `grace`.
  // A second request can only shorten the deadline.
  void Terminate(absl::Duration grace);
  // SIGKILL to the group now.
  void Kill() { Terminate(absl::ZeroDuration()); }
  bool stop_requested() const;
  // The engine's process group, or nullopt before the spawn.
  std::optional<pid_t> pgid() const;

 private:
  // Sends SIGKILL once the stop deadline has passed.
  void EnforceDeadline();
  void WaitForGroupExit(ChildProcess& child);

  const SupervisorOptions options_;
  mutable absl::Mutex mu_;
  std::unique_ptr<ChildProcess> child_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Time> kill_at_ ABSL_GUARDED_BY(mu_);
  bool killed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace quantd::agent
