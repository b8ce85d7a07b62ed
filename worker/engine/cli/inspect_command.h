// `quantd-engine inspect --model PATH [--json]`: what a model file holds
// without running it — architecture and sizes from its config, parameter
// count and storage types of its tensors, and a tokenizer summary (kind,
// vocabulary size, special ids).
#pragma once

#include <CLI/CLI.hpp>

namespace quantd::engine::cli {

// Adds the `inspect` subcommand to `app`; its callback stores the exit
// status in *exit_code (which must outlive app.parse).
void AddInspectCommand(CLI::App& app, int* exit_code);

}  // namespace quantd::engine::cli
