// Maps the dotted JobSpec field paths the server names in INVALID_ARGUMENT
// errors ("scheme.weights.bits: must be in 2..8, got 12") to the submit
// flags that set them (--w-bits), so an error points at what to retype.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace quantd::client {

// The flag that sets `field` (a "spec." or "request." prefix is ignored;
// the longest known prefix wins, so "calibration.dataset.uri" ->
// "--calib-data" and "method_params.alpha" -> "--param alpha"). "" when no
// flag sets it.
std::string FlagForField(absl::string_view field);

// For an INVALID_ARGUMENT "field: reason" whose field has a flag, returns
// "--flag: reason (field)" with the same code; any other status unchanged.
absl::Status PointAtFlag(const absl::Status& status);

}  // namespace quantd::client
