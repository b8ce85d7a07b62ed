// The config.json of an exported HF-layout model. For a model read from an
// HF directory the original config.json is kept (only its dtype entries are
// set to float32, the dtype the exporter writes, key order kept); for a
// GGUF-sourced LLaMA-family model a config for transformers' original
// architecture (LlamaForCausalLM, MistralForCausalLM or Qwen2ForCausalLM) is
// built from io::ModelConfig.
//
// Plain functions; thread-safe.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "worker/engine/io/model_config.h"

namespace quantd::engine::exporting {

// A transformers config for a LLaMA-family model (model_type llama,
// mistral or qwen2; any other model_type of the LLaMA architecture is
// written as llama). Throws ExportError for an OPT or BERT config, which
// only HF directories provide (their config.json is copied instead).
nlohmann::json LlamaFamilyConfigJson(const io::ModelConfig& config);

// The exported config.json text: `original` (an HF config.json; empty
// for a GGUF source) with "torch_dtype"/"dtype" set to "float32", or
// LlamaFamilyConfigJson(config). With `separate_head` (the export holds its
// own lm_head.weight, e.g. a method transformed the head but not the
// embedding) "tie_word_embeddings" is false, since transformers would
// otherwise replace that head by the embedding. Throws ExportError when
// `original` cannot be read or is not a JSON object.
std::string ExportConfigText(const io::ModelConfig& config,
                             const std::filesystem::path& original,
                             bool separate_head);

}  // namespace quantd::engine::exporting
