// OPT: LayerNorm with bias (pre-LN, or post-LN when do_layer_norm_before is
// false, as in OPT-350m), learned positions with OPT's offset of 2 (counted
// over real tokens, as HF does), q scaled by head_dim^-0.5 right after
// q_proj, ReLU MLP (fc1, fc2), project_in/project_out when
// word_embed_proj_dim differs from hidden_size, tied or separate lm_head.
// Tensor names follow HF's OPTForCausalLM ("model.decoder.layers.N.fc1...");
// checkpoints saved from OPTModel ("decoder.layers.N...") load as well.
#pragma once

#include <memory>

#include "worker/engine/io/model_config.h"
#include "worker/engine/io/tensor_source.h"
#include "worker/engine/model/model.h"

namespace quantd::engine::model {

// Loads the resident tensors and checks them against `config`. Throws
// ModelError (naming the tensor or config field) on a mismatch.
std::unique_ptr<Model> MakeOptModel(
    const io::ModelConfig& config,
    std::shared_ptr<const io::TensorSource> source,
    const ModelOptions& options);

}  // namespace quantd::engine::model
