// Running a short helper command (`quantd-engine probe`, `nvidia-smi`) and
// collecting its stdout, with a time limit and a size cap: the command is
// another program and may hang or babble.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace quantd::agent {

// Runs `argv` (stderr discarded) and returns its stdout. Errors: the
// command cannot be run (INTERNAL), it ran past `timeout` (it is killed;
// DEADLINE_EXCEEDED), wrote more than `max_bytes` (RESOURCE_EXHAUSTED) or
// exited non-zero (INTERNAL, naming the exit status).
[[nodiscard]] absl::StatusOr<std::string> CommandOutput(
    const std::vector<std::string>& argv, absl::Duration timeout,
    size_t max_bytes = 1 << 20);

}  // namespace quantd::agent
