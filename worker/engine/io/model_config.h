// ModelConfig: the architecture hyper-parameters the engine needs, parsed
// from an HF config.json or from GGUF metadata. Tensor names everywhere in
// the engine follow the HF layout of the architecture (GGUF names are mapped
// on load), so a transformed model exports back to HF layout by name.
#pragma once

#include <cstdint>
#include <string>

namespace quantd::engine::io {

enum class Architecture {
  kLlama,  // LLaMA, Mistral, Qwen2, SmolLM: RMSNorm, RoPE, GQA, SwiGLU.
  kOpt,    // OPT: pre-LN LayerNorm with bias, learned positions, ReLU.
  kBert,   // BERT encoders: post-LN, GELU, token types.
};

// "llama", "opt", "bert".
const char* ArchitectureName(Architecture architecture);

struct ModelConfig {
  Architecture architecture = Architecture::kLlama;
  // The HF `model_type` (or GGUF general.architecture) as read.
  std::string model_type;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;  // OPT: ffn_dim.
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;  // == num_heads without GQA.
  int64_t head_dim = 0;      // hidden_size / num_heads unless given.
  int64_t max_position_embeddings = 0;
  double norm_eps = 1e-5;  // rms_norm_eps or layer_norm_eps.
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;
  // "silu", "relu", "gelu".
  std::string hidden_act;
  // LLaMA family: q/k/v projections carry biases (Qwen2, or
  // attention_bias: true, which also gives o_proj one).
  bool attention_bias = false;
  // Mistral/Qwen2 sliding-window attention span in tokens; 0 = full
  // attention. Only matters for sequences longer than the window.
  int64_t sliding_window = 0;
  // OPT specifics.
  bool do_layer_norm_before = true;
  int64_t word_embed_proj_dim = 0;
  bool enable_bias = true;
  // BERT specifics.
  int64_t type_vocab_size = 0;
  // Special token ids (-1 when absent).
  int64_t bos_token_id = -1;
  int64_t eos_token_id = -1;
  int64_t pad_token_id = -1;
};

}  // namespace quantd::engine::io
