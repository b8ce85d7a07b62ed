// Tiny random models held in a MemoryTensorSource, for the model, eval and
// methods unit tests: the configs and HF tensor names of each architecture
// at sizes that run in milliseconds.
#pragma once

#include <cstdint>
#include <memory>

#include "worker/engine/io/model_config.h"
#include "worker/engine/model/memory_tensor_source.h"

namespace quantd::engine::model::testing {

// hidden 32, 2 blocks, 4 heads (2 KV heads: GQA), head_dim 8, ffn 48,
// vocab 64, tied embeddings.
io::ModelConfig TinyLlamaConfig();
// hidden 32, 2 blocks, 4 heads, ffn 48, vocab 64, 40 positions, ReLU;
// `pre_norm` false gives the OPT-350m layout (post-LN, no final LN) with
// word_embed_proj_dim 16 (project_in/out).
io::ModelConfig TinyOptConfig(bool pre_norm = true);
// hidden 32, 2 blocks, 4 heads, ffn 48, vocab 64, 40 positions, GELU.
io::ModelConfig TinyBertConfig();

// Every tensor `config`'s architecture needs, drawn from N(0, 0.2²) (norm
// weights around 1) with `seed`.
std::shared_ptr<MemoryTensorSource> RandomWeights(const io::ModelConfig& config,
                                                  uint64_t seed = 0);

}  // namespace quantd::engine::model::testing
