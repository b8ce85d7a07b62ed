// The engine's model readers throw the contract's FormatError (file, tensor
// or field, and the problem); the engine has always named it io::FormatError.
#pragma once

#include "contract/format_error.h"

namespace quantd::engine::io {
using contract::FormatError;
}  // namespace quantd::engine::io
