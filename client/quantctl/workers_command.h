// `quantctl workers`: the registered workers, their devices and the jobs
// they hold (JobService.ListWorkers).
#pragma once

#include "CLI/CLI.hpp"
#include "client/quantctl/command.h"

namespace quantd::client {

Command AddWorkersCommand(CLI::App& parent);

// WORKER  ALIVE  DEVICES  HOST MEMORY  METHODS  JOBS  LAST HEARTBEAT
std::string RenderWorkersTable(const quantd::v1::ListWorkersResponse& workers);

}  // namespace quantd::client
