// `quantctl fetch JOB [--dest DIR] [--artifact NAME]... [--kind KIND]...`:
// downloads a job's artifacts under DIR, resumably and hash-checked.
#pragma once

#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/quantctl/command.h"

namespace quantd::client {

Command AddFetchCommand(CLI::App& parent);

// The local path of artifact `name` under `dest`. Artifact names come from
// the server, so a name that would escape `dest` (absolute, "..", empty
// components) is InvalidArgument.
[[nodiscard]] absl::StatusOr<std::string> ArtifactPath(absl::string_view dest,
                                                       absl::string_view name);

}  // namespace quantd::client
