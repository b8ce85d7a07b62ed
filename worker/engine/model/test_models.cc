#include "worker/engine/model/test_models.h"

#include <string>
#include <vector>

namespace quantd::engine::model::testing {
namespace {

io::ModelConfig BaseConfig(io::Architecture architecture) {
  io::ModelConfig config;
  config.architecture = architecture;
  config.vocab_size = 64;
  config.hidden_size = 32;
  config.intermediate_size = 48;
  config.num_layers = 2;
  config.num_heads = 4;
  config.num_kv_heads = 4;
  config.head_dim = 8;
  config.max_position_embeddings = 40;
  return config;
}

class Filler {
 public:
  Filler(MemoryTensorSource& source, uint64_t seed)
      : source_(source), generator_(at::detail::createCPUGenerator(seed)) {}

  void Matrix(const std::string& name, std::vector<int64_t> shape) {
    source_.Add(name, at::randn(shape, generator_) * 0.2);
  }
  void Linear(const std::string& name, int64_t out, int64_t in, bool bias) {
    Matrix(name + ".weight", {out, in});
    if (bias) Matrix(name + ".bias", {out});
  }
  void Norm(const std::string& name, int64_t size, bool bias) {
    source_.Add(name + ".weight", 1.0 + at::randn({size}, generator_) * 0.1);
    if (bias) Matrix(name + ".bias", {size});
  }

 private:
  MemoryTensorSource& source_;
  at::Generator generator_;
};

void FillLlama(const io::ModelConfig& c, Filler& fill) {
  int64_t q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim;
  fill.Matrix("model.embed_tokens.weight", {c.vocab_size, c.hidden_size});
  fill.Norm("model.norm", c.hidden_size, false);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    std::string p = "model.layers." + std::to_string(i) + ".";
    fill.Norm(p + "input_layernorm", c.hidden_size, false);
    fill.Linear(p + "self_attn.q_proj", q, c.hidden_size, false);
    fill.Linear(p + "self_attn.k_proj", kv, c.hidden_size, false);
    fill.Linear(p + "self_attn.v_proj", kv, c.hidden_size, false);
    fill.Linear(p + "self_attn.o_proj", c.hidden_size, q, false);
    fill.Norm(p + "post_attention_layernorm", c.hidden_size, false);
    fill.Linear(p + "mlp.gate_proj", c.intermediate_size, c.hidden_size, false);
    fill.Linear(p + "mlp.up_proj", c.intermediate_size, c.hidden_size, false);
    fill.Linear(p + "mlp.down_proj", c.hidden_size, c.intermediate_size, false);
  }
}

void FillOpt(const io::ModelConfig& c, Filler& fill) {
  int64_t h = c.hidden_size, p = c.word_embed_proj_dim;
  std::string d = "model.decoder.";
  fill.Matrix(d + "embed_tokens.weight", {c.vocab_size, p});
  fill.Matrix(d + "embed_positions.weight", {c.max_position_embeddings + 2, h});
  if (c.do_layer_norm_before) fill.Norm(d + "final_layer_norm", h, true);
  if (p != h) {
    fill.Matrix(d + "project_in.weight", {h, p});
    fill.Matrix(d + "project_out.weight", {p, h});
  }
  for (int64_t i = 0; i < c.num_layers; ++i) {
    std::string l = d + "layers." + std::to_string(i) + ".";
    fill.Norm(l + "self_attn_layer_norm", h, true);
    for (const char* name : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      fill.Linear(l + "self_attn." + name, h, h, true);
    }
    fill.Norm(l + "final_layer_norm", h, true);
    fill.Linear(l + "fc1", c.intermediate_size, h, true);
    fill.Linear(l + "fc2", h, c.intermediate_size, true);
  }
}

void FillBert(const io::ModelConfig& c, Filler& fill) {
  int64_t h = c.hidden_size;
  fill.Matrix("embeddings.word_embeddings.weight", {c.vocab_size, h});
  fill.Matrix("embeddings.position_embeddings.weight",
              {c.max_position_embeddings, h});
  fill.Matrix("embeddings.token_type_embeddings.weight",
              {c.type_vocab_size, h});
  fill.Norm("embeddings.LayerNorm", h, true);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    std::string l = "encoder.layer." + std::to_string(i) + ".";
    for (const char* name : {"query", "key", "value"}) {
      fill.Linear(l + "attention.self." + name, h, h, true);
    }
    fill.Linear(l + "attention.output.dense", h, h, true);
    fill.Norm(l + "attention.output.LayerNorm", h, true);
    fill.Linear(l + "intermediate.dense", c.intermediate_size, h, true);
    fill.Linear(l + "output.dense", h, c.intermediate_size, true);
    fill.Norm(l + "output.LayerNorm", h, true);
  }
}

}  // namespace

io::ModelConfig TinyLlamaConfig() {
  io::ModelConfig config = BaseConfig(io::Architecture::kLlama);
  config.model_type = "llama";
  config.num_kv_heads = 2;
  config.norm_eps = 1e-5;
  config.rope_theta = 10000.0;
  config.tie_word_embeddings = true;
  config.hidden_act = "silu";
  return config;
}

io::ModelConfig TinyOptConfig(bool pre_norm) {
  io::ModelConfig config = BaseConfig(io::Architecture::kOpt);
  config.model_type = "opt";
  config.hidden_act = "relu";
  config.tie_word_embeddings = true;
  config.do_layer_norm_before = pre_norm;
  config.word_embed_proj_dim = pre_norm ? config.hidden_size : 16;
  config.enable_bias = true;
  return config;
}

io::ModelConfig TinyBertConfig() {
  io::ModelConfig config = BaseConfig(io::Architecture::kBert);
  config.model_type = "bert";
  config.hidden_act = "gelu";
  config.norm_eps = 1e-12;
  config.type_vocab_size = 2;
  return config;
}

std::shared_ptr<MemoryTensorSource> RandomWeights(const io::ModelConfig& config,
                                                  uint64_t seed) {
  auto source = std::make_shared<MemoryTensorSource>("random-test-model");
  Filler fill(*source, seed);
  switch (config.architecture) {
    case io::Architecture::kLlama:
      FillLlama(config, fill);
      break;
    case io::Architecture::kOpt:
      FillOpt(config, fill);
      break;
    case io::Architecture::kBert:
      FillBert(config, fill);
      break;
  }
  return source;
}

}  // namespace quantd::engine::model::testing
