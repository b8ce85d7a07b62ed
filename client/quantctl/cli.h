// The quantctl command line: global configuration flags, the verbs, and
// the mapping of everything that can go wrong to an exit code. main() is a
// call to RunQuantctl; tests call it with string streams.
#pragma once

#include "client/quantctl/terminal.h"
#include "common/config.h"

namespace quantd::client {

// Parses `argv`, runs the chosen verb and returns the process exit code
// (see exit_codes.h). All output goes to `io`; `env` supplies QUANTD_*
// variables and HOME/XDG_CONFIG_HOME for the default config file.
int RunQuantctl(int argc, const char* const* argv, Io& io,
                const EnvLookup& env);

}  // namespace quantd::client
