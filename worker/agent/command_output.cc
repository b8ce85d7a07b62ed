#include "worker/agent/command_output.h"

#include <signal.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "worker/agent/child_process.h"
#include "worker/agent/line_reader.h"

namespace quantd::agent {

absl::StatusOr<std::string> CommandOutput(const std::vector<std::string>& argv,
                                          absl::Duration timeout,
                                          size_t max_bytes) {
  SpawnOptions options;
  options.argv = argv;
  options.pipe_child_fd = 1;
  auto child = ChildProcess::Spawn(options);
  if (!child.ok()) return child.status();
  const std::string command = absl::StrJoin(argv, " ");
  const absl::Time deadline = absl::Now() + timeout;
  LineReader reader((*child)->pipe_fd(), max_bytes);
  std::string output;
  for (bool eof = false; !eof;) {
    if (absl::Now() >= deadline) {
      (*child)->SignalGroup(SIGKILL);
      return absl::DeadlineExceededError(absl::StrCat(
          command, ": no answer within ", absl::FormatDuration(timeout)));
    }
    ReadBatch batch = reader.Read(absl::Milliseconds(50));
    for (const Line& line : batch.lines) {
      absl::StrAppend(&output, line.text, "\n");
      if (line.truncated || output.size() > max_bytes) {
        (*child)->SignalGroup(SIGKILL);
        return absl::ResourceExhaustedError(absl::StrCat(
            command, ": more than ", max_bytes, " bytes of output"));
      }
    }
    eof = batch.eof;
  }
  const ExitStatus exit = (*child)->Wait();
  if (!exit.Succeeded()) {
    return absl::InternalError(absl::StrCat(command, ": ", exit.Describe()));
  }
  return output;
}

}  // namespace quantd::agent
