// `quantd-engine run SPEC.json --out DIR [--events-fd N] [--device D]
// [--threads T] [--data-dir D]`: runs (or resumes) one job and maps every
// failure to the protocol's exit status and error event
// (docs/formats/engine-protocol.md): 0 success, 2 invalid input, 3 runtime
// failure, 4 out of memory, 143 stopped by the test hook
// QUANTD_ENGINE_STOP_AFTER_BLOCK (as if killed after that block).
#pragma once

#include <CLI/CLI.hpp>

namespace quantd::engine::cli {

// Adds the `run` subcommand to `app`; its callback stores the exit status
// in *exit_code (which must outlive app.parse).
void AddRunCommand(CLI::App& app, int* exit_code);

}  // namespace quantd::engine::cli
