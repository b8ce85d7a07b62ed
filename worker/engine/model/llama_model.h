// The LLaMA family (LLaMA, Mistral, Qwen2, SmolLM): pre-norm RMSNorm blocks,
// rotary positions (HF rotate_half convention, config theta), grouped-query
// attention, SwiGLU MLP (act(gate) ⊙ up), optional q/k/v biases (Qwen2),
// tied or separate lm_head. Tensor names follow HF's LlamaForCausalLM
// ("model.layers.N.self_attn.q_proj.weight", ...).
#pragma once

#include <memory>

#include "worker/engine/io/model_config.h"
#include "worker/engine/io/tensor_source.h"
#include "worker/engine/model/model.h"

namespace quantd::engine::model {

// Loads the resident tensors and checks them against `config`. Throws
// ModelError (naming the tensor or config field) on a mismatch.
std::unique_ptr<Model> MakeLlamaModel(
    const io::ModelConfig& config,
    std::shared_ptr<const io::TensorSource> source,
    const ModelOptions& options);

}  // namespace quantd::engine::model
