// `quantctl logs JOB [--follow]`: the job's log events; without --follow it
// stops at the newest event stored when it starts.
#pragma once

#include "CLI/CLI.hpp"
#include "client/quantctl/command.h"

namespace quantd::client {

Command AddLogsCommand(CLI::App& parent);

}  // namespace quantd::client
