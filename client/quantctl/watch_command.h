// `quantctl watch JOB`: progress bars (or plain lines) until the job ends,
// then the result table; the exit code follows the final state.
#pragma once

#include "CLI/CLI.hpp"
#include "client/quantctl/command.h"

namespace quantd::client {

Command AddWatchCommand(CLI::App& parent);

}  // namespace quantd::client
