// Token windows for calibration and evaluation: a text file tokenized whole
// with the model's tokenizer (no special tokens), then either `count`
// random windows of `seq_len` drawn with a seeded std::mt19937_64 (start =
// draw mod (n − seq_len + 1), portable across standard libraries), or the
// consecutive non-overlapping windows of the perplexity protocol
// (docs/ALGORITHMS.md §1.6), the remainder dropped.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "worker/engine/tokenizer/tokenizer.h"

namespace quantd::engine::pipeline {

// Throws SpecError naming `field` when the file cannot be read.
std::vector<int32_t> TokenizeTextFile(const std::filesystem::path& path,
                                      const tokenizer::Tokenizer& tokenizer,
                                      const std::string& field);

// [count, seq_len] int64. Throws SpecError naming `field` when the text has
// fewer than seq_len tokens.
at::Tensor DrawWindows(std::span<const int32_t> tokens, int64_t count,
                       int64_t seq_len, uint64_t seed,
                       const std::string& field);

// [n, seq_len] int64 with n = ⌊tokens / seq_len⌋, further limited to
// ⌊max_tokens / seq_len⌋ windows when max_tokens > 0. Throws SpecError
// naming `field` when not even one window fits.
at::Tensor ConsecutiveWindows(std::span<const int32_t> tokens, int64_t seq_len,
                              int64_t max_tokens, const std::string& field);

}  // namespace quantd::engine::pipeline
