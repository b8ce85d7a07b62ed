// `quantctl version`: the client's version and the API it speaks.
#pragma once

#include <string>

#include "CLI/CLI.hpp"
#include "client/quantctl/command.h"

namespace quantd::client {

// "0.1.0", from the project version in CMake.
std::string ClientVersion();

Command AddVersionCommand(CLI::App& parent);

}  // namespace quantd::client
