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

// Throws ExportError when no config.json can be exported for a model read
// from `source` (a GGUF-sourced model outside the LLaMA family), so an
// exporter fails before any block work.
void CheckConfigExportable(const io::ModelConfig& config,
                           const std::filesystem::path& source);

// The exported config.json of a model read from `source`: an HF
// directory's own config.json (key order kept) with "torch_dtype"/"dtype"
// set to "float32", or, for a GGUF source, LlamaFamilyConfigJson(config).
// With `holds_head` (the export holds its own lm_head.weight, e.g. a method
// transformed the head but not the embedding) a tied model's
// "tie_word_embeddings" becomes false, since transformers would otherwise
// replace that head by the embedding. Throws ExportError when the
// directory's config.json cannot be read or is not a JSON object.
nlohmann::ordered_json ExportConfigJson(const io::ModelConfig& config,
                                        const std::filesystem::path& source,
                                        bool holds_head);

}  // namespace quantd::engine::exporting
