// `quantctl cancel JOB [--reason R]`: cancels a queued job at once, or asks
// the worker to stop a running one.
#pragma once

#include "CLI/CLI.hpp"
#include "client/quantctl/command.h"

namespace quantd::client {

Command AddCancelCommand(CLI::App& parent);

}  // namespace quantd::client
