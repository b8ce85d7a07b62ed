// Decides which local models and datasets of a submit are uploaded as
// blobs (--upload auto|always|never) and uploads them. `auto` asks the
// server first (SubmitJob with validate_only): an INVALID_ARGUMENT naming
// an input's field means the server cannot read that path, so the file is
// uploaded and the spec points at the blob instead.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/quantctl/command.h"
#include "client/quantctl/spec_flags.h"

namespace quantd::client {

enum class UploadMode { kAuto, kAlways, kNever };

[[nodiscard]] absl::StatusOr<UploadMode> ParseUploadMode(
    absl::string_view text);

// Rewrites plan->request's DataRefs of uploaded inputs to their blobs.
// Returns the server's validation error when it is about anything other
// than an uploadable input.
[[nodiscard]] absl::Status ResolveLocalInputs(CommandContext& context,
                                              Connection& connection,
                                              UploadMode mode,
                                              SubmitPlan* plan);

}  // namespace quantd::client
