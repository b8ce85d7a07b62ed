// `quantd-engine eval --model PATH --data FILE [--seq-len N]
// [--max-tokens M] [--device cpu|cuda|auto] [--batch-size B] [--threads T]
// [--json]`: perplexity of a causal LM on a text file by the papers'
// protocol (docs/EVALUATION.md), with the time taken and the peak RSS.
// Human-readable lines by default; --json prints one JSON object with at
// least ppl, token_ppl, tokens, windows, seq_len, seconds, eval_seconds,
// tokens_per_second and peak_rss_bytes.
#pragma once

#include <CLI/CLI.hpp>

namespace quantd::engine::cli {

// Adds the `eval` subcommand to `app`; its callback stores the exit status
// in *exit_code (which must outlive app.parse).
void AddEvalCommand(CLI::App& app, int* exit_code);

}  // namespace quantd::engine::cli
