// `quantctl get JOB` (alias `describe`): one job with its progress, result
// or error.
#pragma once

#include "CLI/CLI.hpp"
#include "client/quantctl/command.h"

namespace quantd::client {

Command AddGetCommand(CLI::App& parent);

}  // namespace quantd::client
