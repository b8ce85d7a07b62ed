// `quantctl list`: jobs filtered by state and labels, newest first, as a
// table, JSON or YAML; follows pages up to --limit.
#pragma once

#include "CLI/CLI.hpp"
#include "client/quantctl/command.h"

namespace quantd::client {

Command AddListCommand(CLI::App& parent);

}  // namespace quantd::client
