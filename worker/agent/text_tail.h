// The last lines of a text file, for error messages: when the engine
// fails, the end of its stderr usually says why.
#pragma once

#include <cstddef>
#include <string>

namespace quantd::agent {

// Up to `max_lines` last lines of the file at `path`, read from at most its
// last `max_bytes` bytes (a first partial line is dropped), joined with
// '\n' and without a trailing newline. Empty when the file is missing or
// empty.
std::string TailLines(const std::string& path, size_t max_lines,
                      size_t max_bytes);

}  // namespace quantd::agent
