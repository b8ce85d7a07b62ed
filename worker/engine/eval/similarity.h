// Embedding similarity for encoders (BERT, sentence-transformers): the
// mean-pooled embeddings of a list of sentences, and the row-wise cosine
// between two models' embeddings of the same sentences — the accuracy
// measure for a quantized encoder, where perplexity does not apply.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "worker/engine/model/model.h"
#include "worker/engine/tokenizer/tokenizer.h"

namespace quantd::engine::eval {

struct EmbeddingOptions {
  // Sentences run through the blocks together (padded to the longest, with
  // a token mask). Default 32; at least 1.
  int64_t batch_size = 32;
  // Truncate each sentence to this many tokens, special tokens included,
  // keeping the final [SEP] as HF truncation does. Default 256
  // (sentence-transformers' max_seq_length for MiniLM); at least 2.
  int64_t max_tokens = 256;
};

// Token ids of each sentence with the tokenizer's special tokens ([CLS] ...
// [SEP]), truncated to options.max_tokens.
std::vector<std::vector<int32_t>> TokenizeSentences(
    const tokenizer::Tokenizer& tokenizer,
    const std::vector<std::string>& sentences, const EmbeddingOptions& options);

// [N, C] embeddings (Model::Head of an OutputKind::kEmbedding model) of the
// N id sequences, float32 on the CPU. Padding uses `pad_id`. Throws
// EvalError for a decoder model, an empty sequence or bad options.
at::Tensor EmbedTokenIds(const model::Model& model,
                         const std::vector<std::vector<int32_t>>& ids,
                         int32_t pad_id, const EmbeddingOptions& options,
                         const model::Model::BlockPreparer& prepare = {});

// TokenizeSentences + EmbedTokenIds (pad id from the tokenizer, else 0).
at::Tensor EmbedSentences(const model::Model& model,
                          const tokenizer::Tokenizer& tokenizer,
                          const std::vector<std::string>& sentences,
                          const EmbeddingOptions& options,
                          const model::Model::BlockPreparer& prepare = {});

struct SimilarityResult {
  double mean_cosine = 0.0;
  double min_cosine = 0.0;
  int64_t count = 0;
  std::vector<double> cosines;  // Per row.
};

// Row-wise cosine of two [N, C] embeddings (computed in float64). Throws
// EvalError when the shapes differ.
SimilarityResult CompareEmbeddings(const at::Tensor& a, const at::Tensor& b);

}  // namespace quantd::engine::eval
