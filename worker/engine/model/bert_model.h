// BERT encoders (BERT, MiniLM, sentence-transformers models): word +
// position + token-type embeddings and LayerNorm, post-LN blocks with exact
// (erf) GELU, bidirectional attention with padding masked out, and a head
// that mean-pools the last hidden states over real tokens (optionally
// L2-normalised, as sentence-transformers' Normalize module does). Token
// types are all 0 (single-segment input). Tensor names follow HF's
// BertModel ("encoder.layer.N.attention.self.query.weight"); a "bert."
// prefix (BertFor* checkpoints) is accepted.
#pragma once

#include <memory>

#include "worker/engine/io/model_config.h"
#include "worker/engine/io/tensor_source.h"
#include "worker/engine/model/model.h"

namespace quantd::engine::model {

// Loads the resident tensors and checks them against `config`. Throws
// ModelError (naming the tensor or config field) on a mismatch.
std::unique_ptr<Model> MakeBertModel(
    const io::ModelConfig& config,
    std::shared_ptr<const io::TensorSource> source,
    const ModelOptions& options);

}  // namespace quantd::engine::model
