// Perplexity of a causal LM on a text, by the protocol of the OS+,
// OmniQuant and SmoothQuant evaluation scripts (docs/ALGORITHMS.md §1.6;
// docs/EVALUATION.md): the whole text is tokenized once, cut into
// n = ⌊tokens / L⌋ non-overlapping windows of L tokens (the remainder is
// dropped), each window is an independent sequence, loss_i is the mean
// cross-entropy over its L − 1 shifted targets, and
// PPL = exp(Σ_i loss_i·L / (n·L)).
//
// Windows run block by block: a group of windows passes block 0, then
// block 1, ..., (in forward batches of batch_size), so only one block is
// resident and each block is loaded once per group; a method can prepare
// each block (hooks, replaced weights) through the same BlockPreparer the
// quantization pipeline uses.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "worker/engine/model/model.h"
#include "worker/engine/tokenizer/tokenizer.h"

namespace quantd::engine::eval {

struct PerplexityOptions {
  // L: tokens per window. Default 2048 (the papers'); at least 2.
  int64_t seq_len = 2048;
  // Token budget: evaluate only the first ⌊max_tokens / L⌋ windows (whole
  // windows only). 0 (default) evaluates the whole text.
  int64_t max_tokens = 0;
  // Windows per forward call. Default 1; at least 1.
  int64_t batch_size = 1;
  // Hidden states kept between blocks, in bytes: windows are grouped so
  // that a group's [windows, L, C] float32 hidden states fit (at least one
  // batch), and each block is loaded once per group. Default 128 MiB.
  int64_t resident_hidden_bytes = int64_t{128} << 20;
  // Tokens per Head call when computing the loss, bounding the logits held
  // at once to about head_chunk_tokens × vocab floats. Default 1024.
  int64_t head_chunk_tokens = 1024;
};

struct PerplexityResult {
  // The papers' figure: exp(Σ_i loss_i·L / (n·L)).
  double ppl = 0.0;
  // exp(mean NLL over all n·(L−1) targets). With equal windows this is the
  // same number as `ppl` (the ×L cancels); it differs only by rounding.
  double token_ppl = 0.0;
  // Σ of the per-target NLL, in nats.
  double nll_sum = 0.0;
  int64_t windows = 0;      // n.
  int64_t seq_len = 0;      // L.
  int64_t tokens = 0;       // n·L, the tokens fed to the model.
  int64_t targets = 0;      // n·(L−1), the tokens predicted.
  int64_t text_tokens = 0;  // Tokens in the whole text, before windowing.
  std::vector<double> window_losses;  // loss_i, in window order.
};

// Called after each group: windows finished so far, total windows.
using PerplexityProgress = std::function<void(int64_t, int64_t)>;

// The text of `path` with CRLF (and lone CR) normalised to LF. Throws
// EvalError naming the file when it cannot be read.
std::string ReadText(const std::filesystem::path& path);

// The token ids of the whole text, tokenized once with the tokenizer's own
// special tokens (add_special = true: a single BOS at the very start when
// the model's tokenizer adds one, none for SmolLM2), as the reference
// scripts' `tokenizer(text)` does.
std::vector<int32_t> TokenizeText(const tokenizer::Tokenizer& tokenizer,
                                  const std::string& text);

// Evaluates `model` (OutputKind::kLogits) on `tokens`. Throws EvalError for
// invalid options, an encoder model, or fewer tokens than one window.
PerplexityResult EvaluatePerplexity(
    const model::Model& model, std::span<const int32_t> tokens,
    const PerplexityOptions& options,
    const model::Model::BlockPreparer& prepare = {},
    const PerplexityProgress& progress = {});

}  // namespace quantd::engine::eval
