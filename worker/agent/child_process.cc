#include "worker/agent/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"

namespace quantd::agent {
namespace {

// Everything the child needs, prepared before fork: after fork only
// async-signal-safe calls are allowed (the parent is multithreaded).
struct ExecPlan {
  std::vector<std::string> argv_storage;
  std::vector<char*> argv;
  int output_fd = -1;
  int pipe_write_fd = -1;
  int pipe_child_fd = -1;
  int error_fd = -1;
  uint64_t max_address_space_bytes = 0;
  uint64_t max_open_files = 0;
  bool kill_with_parent = false;
  pid_t parent = 0;
};

void ReportExecErrorAndExit(int error_fd) {
  const int error = errno;
  ssize_t ignored = ::write(error_fd, &error, sizeof(error));
  (void)ignored;
  ::_exit(127);
}

void ResetSignals() {
  sigset_t empty;
  sigemptyset(&empty);
  sigprocmask(SIG_SETMASK, &empty, nullptr);
  struct sigaction action;
  memset(&action, 0, sizeof(action));
  action.sa_handler = SIG_DFL;
  for (int signal = 1; signal < NSIG; ++signal) {
    sigaction(signal, &action, nullptr);  // Fails harmlessly for KILL/STOP.
  }
}

void SetLimit(int resource, uint64_t value, int error_fd) {
  if (value == 0) return;
  struct rlimit limit;
  limit.rlim_cur = value;
  limit.rlim_max = value;
  if (::setrlimit(resource, &limit) != 0) ReportExecErrorAndExit(error_fd);
}

// Closes every descriptor >= 3 except `keep_a` and `keep_b`.
void CloseOtherDescriptors(int keep_a, int keep_b) {
  const unsigned lo = static_cast<unsigned>(std::min(keep_a, keep_b));
  const unsigned hi = static_cast<unsigned>(std::max(keep_a, keep_b));
  if (lo > 3) ::close_range(3, lo - 1, 0);
  if (hi > lo + 1) ::close_range(std::max(lo + 1, 3u), hi - 1, 0);
  ::close_range(std::max(hi + 1, 3u), ~0u, 0);
}

[[noreturn]] void RunChild(const ExecPlan& plan) {
  int error_fd = plan.error_fd;
  ::setpgid(0, 0);
  ResetSignals();
  if (plan.kill_with_parent) {
    // Its own group shields the child from signals sent to the parent's;
    // this makes it die with the parent (even on SIGKILL), which would
    // otherwise leave an orphan engine working for a lost lease. Exit if
    // the parent is already gone (the request came too late).
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) {
      ReportExecErrorAndExit(error_fd);
    }
    if (::getppid() != plan.parent) ::_exit(127);
  }
  // Keep the error pipe clear of the descriptor numbers about to be set.
  error_fd =
      ::fcntl(error_fd, F_DUPFD_CLOEXEC, std::max(plan.pipe_child_fd + 1, 3));
  if (error_fd < 0) ::_exit(127);
  const int null_fd = ::open("/dev/null", O_RDONLY);
  if (null_fd < 0 || ::dup2(null_fd, 0) < 0) ReportExecErrorAndExit(error_fd);
  if (::dup2(plan.output_fd, 1) < 0 || ::dup2(plan.output_fd, 2) < 0) {
    ReportExecErrorAndExit(error_fd);
  }
  if (plan.pipe_child_fd >= 0) {
    if (plan.pipe_write_fd == plan.pipe_child_fd) {
      ::fcntl(plan.pipe_child_fd, F_SETFD, 0);
    } else if (::dup2(plan.pipe_write_fd, plan.pipe_child_fd) < 0) {
      ReportExecErrorAndExit(error_fd);
    }
  }
  SetLimit(RLIMIT_AS, plan.max_address_space_bytes, error_fd);
  SetLimit(RLIMIT_NOFILE, plan.max_open_files, error_fd);
  CloseOtherDescriptors(std::max(plan.pipe_child_fd, 2), error_fd);
  ::execvp(plan.argv[0], plan.argv.data());
  ReportExecErrorAndExit(error_fd);
  ::_exit(127);
}

absl::StatusOr<UniqueFd> OpenOutput(const std::string& path) {
  const char* target = path.empty() ? "/dev/null" : path.c_str();
  const int fd =
      ::open(target, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("cannot open ", target, ": ", strerror(errno)));
  }
  return UniqueFd(fd);
}

absl::Status MakePipe(UniqueFd& read_end, UniqueFd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("pipe: ", strerror(errno)));
  }
  read_end.Reset(fds[0]);
  write_end.Reset(fds[1]);
  return absl::OkStatus();
}

// Reads the errno the child wrote before failing to exec; 0 when exec
// succeeded (the pipe closed on exec without data).
int ReadExecError(int error_read_fd) {
  int error = 0;
  ssize_t n;
  do {
    n = ::read(error_read_fd, &error, sizeof(error));
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(sizeof(error)) ? error : 0;
}

ExitStatus FromWaitStatus(int status) {
  ExitStatus exit;
  if (WIFSIGNALED(status)) {
    exit.signaled = true;
    exit.signal = WTERMSIG(status);
  } else {
    exit.code = WEXITSTATUS(status);
  }
  return exit;
}

}  // namespace

std::string ExitStatus::Describe() const {
  if (!signaled) return absl::StrCat("exit status ", code);
  const char* name = sigdescr_np(signal);
  return absl::StrCat("killed by signal ", signal, " (",
                      name != nullptr ? name : "unknown", ")");
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(
    const SpawnOptions& options) {
  if (options.argv.empty()) {
    return absl::InvalidArgumentError("spawn: empty argv");
  }
  ExecPlan plan;
  plan.argv_storage = options.argv;
  for (std::string& arg : plan.argv_storage) plan.argv.push_back(arg.data());
  plan.argv.push_back(nullptr);
  plan.pipe_child_fd = options.pipe_child_fd;
  plan.max_address_space_bytes = options.max_address_space_bytes;
  plan.max_open_files = options.max_open_files;
  plan.kill_with_parent = options.kill_with_parent;
  plan.parent = ::getpid();

  auto output = OpenOutput(options.output_path);
  if (!output.ok()) return output.status();
  UniqueFd pipe_read, pipe_write, error_read, error_write;
  if (options.pipe_child_fd >= 0) {
    if (auto s = MakePipe(pipe_read, pipe_write); !s.ok()) return s;
  }
  if (auto s = MakePipe(error_read, error_write); !s.ok()) return s;
  plan.output_fd = output->get();
  plan.pipe_write_fd = pipe_write.get();
  plan.error_fd = error_write.get();

  const pid_t pid = ::fork();
  if (pid < 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("fork: ", strerror(errno)));
  }
  if (pid == 0) RunChild(plan);
  // Also set from the parent: whichever runs first, the group exists before
  // anyone signals it.
  ::setpgid(pid, pid);
  pipe_write.Reset();
  error_write.Reset();
  output->Reset();
  const int exec_error = ReadExecError(error_read.get());
  auto child = std::unique_ptr<ChildProcess>(
      new ChildProcess(pid, std::move(pipe_read)));
  if (exec_error != 0) {
    child->Wait();
    return absl::InternalError(absl::StrCat("cannot execute ", options.argv[0],
                                            ": ", strerror(exec_error)));
  }
  return child;
}

ChildProcess::~ChildProcess() {
  if (!status_.has_value()) {
    SignalGroup(SIGKILL);
    Wait();
  }
  ReapGroupMembers();
}

void ChildProcess::SignalGroup(int signal) {
  absl::MutexLock lock(&mu_);
  if (!reaped_) ::kill(-pid_, signal);
}

ExitStatus ChildProcess::Reap() {
  siginfo_t info;
  memset(&info, 0, sizeof(info));
  while (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT) !=
             0 &&
         errno == EINTR) {
  }
  // The leader has exited but is not reaped yet, so the group id cannot be
  // recycled while the rest of the group is killed.
  absl::MutexLock lock(&mu_);
  ::kill(-pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  status_ = FromWaitStatus(status);
  return *status_;
}

std::optional<ExitStatus> ChildProcess::TryWait() {
  if (status_.has_value()) return status_;
  siginfo_t info;
  memset(&info, 0, sizeof(info));
  if (::waitid(P_PID, static_cast<id_t>(pid_), &info,
               WEXITED | WNOWAIT | WNOHANG) != 0 ||
      info.si_pid == 0) {
    return std::nullopt;
  }
  return Reap();
}

ExitStatus ChildProcess::Wait() {
  if (status_.has_value()) return *status_;
  return Reap();
}

void ChildProcess::ReapGroupMembers() {
  int status;
  while (::waitpid(-pid_, &status, WNOHANG) > 0) {
  }
}

absl::Status BecomeChildSubreaper() {
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
    return absl::InternalError(
        absl::StrCat("prctl(PR_SET_CHILD_SUBREAPER): ", strerror(errno)));
  }
  return absl::OkStatus();
}

bool ProcessGroupExists(pid_t pgid) {
  if (pgid <= 1) return false;  // Not a group this process could own.
  return ::kill(-pgid, 0) == 0 || errno == EPERM;
}

}  // namespace quantd::agent
