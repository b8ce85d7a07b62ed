// `quantctl submit MODEL --method M --scheme S ...`: builds the job spec
// from flags, uploads local inputs when needed, submits, and with --wait
// follows the job to its end.
#pragma once

#include "CLI/CLI.hpp"
#include "client/quantctl/command.h"

namespace quantd::client {

Command AddSubmitCommand(CLI::App& parent);

}  // namespace quantd::client
