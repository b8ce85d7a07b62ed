#include "worker/engine/model/model_factory.h"

#include <string>

#include "worker/engine/io/model_loader.h"
#include "worker/engine/model/bert_model.h"
#include "worker/engine/model/llama_model.h"
#include "worker/engine/model/model_error.h"
#include "worker/engine/model/opt_model.h"

namespace quantd::engine::model {
namespace {

void Require(bool ok, const io::TensorSource& source, const char* field,
             int64_t value, const char* expectation) {
  if (!ok) {
    throw ModelError(source.Describe() + ": config field '" + field +
                     "' = " + std::to_string(value) + ": " + expectation);
  }
}

void ValidateConfig(const io::ModelConfig& config,
                    const io::TensorSource& source) {
  Require(config.vocab_size > 0, source, "vocab_size", config.vocab_size,
          "must be positive");
  Require(config.hidden_size > 0, source, "hidden_size", config.hidden_size,
          "must be positive");
  Require(config.intermediate_size > 0, source, "intermediate_size",
          config.intermediate_size, "must be positive");
  Require(config.num_layers >= 0, source, "num_hidden_layers",
          config.num_layers, "must not be negative");
  Require(config.num_heads > 0, source, "num_attention_heads", config.num_heads,
          "must be positive");
  Require(
      config.num_kv_heads > 0 && config.num_heads % config.num_kv_heads == 0,
      source, "num_key_value_heads", config.num_kv_heads,
      "must be positive and divide num_attention_heads");
  Require(config.head_dim > 0 && config.head_dim % 2 == 0, source, "head_dim",
          config.head_dim, "must be positive and even");
  Require(config.max_position_embeddings >= 0, source,
          "max_position_embeddings", config.max_position_embeddings,
          "must not be negative");
  if (config.architecture != io::Architecture::kLlama) {
    Require(config.num_kv_heads == config.num_heads, source,
            "num_key_value_heads", config.num_kv_heads,
            "grouped-query attention is LLaMA-family only");
    Require(config.head_dim * config.num_heads == config.hidden_size, source,
            "head_dim", config.head_dim,
            "head_dim × num_attention_heads must equal hidden_size");
  }
}

}  // namespace

std::unique_ptr<Model> MakeModel(const io::ModelConfig& config,
                                 std::shared_ptr<const io::TensorSource> source,
                                 const ModelOptions& options) {
  if (source == nullptr) throw ModelError("MakeModel: no tensor source");
  ValidateConfig(config, *source);
  switch (config.architecture) {
    case io::Architecture::kLlama:
      return MakeLlamaModel(config, std::move(source), options);
    case io::Architecture::kOpt:
      return MakeOptModel(config, std::move(source), options);
    case io::Architecture::kBert:
      return MakeBertModel(config, std::move(source), options);
  }
  throw ModelError(source->Describe() + ": unsupported architecture");
}

LoadedModel LoadModel(const std::filesystem::path& path,
                      const ModelOptions& options) {
  io::LoadedModel opened = io::OpenModel(path);
  LoadedModel loaded;
  loaded.config = opened.config;
  loaded.path = opened.path;
  loaded.model = MakeModel(
      opened.config,
      std::shared_ptr<const io::TensorSource>(std::move(opened.tensors)),
      options);
  if (opened.tokenizer.kind != tokenizer::TokenizerData::Kind::kNone) {
    loaded.tokenizer = tokenizer::MakeTokenizer(opened.tokenizer);
  }
  return loaded;
}

}  // namespace quantd::engine::model
