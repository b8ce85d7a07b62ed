// OpenModel: the engine's single entry point for reading a model from
// disk, whatever its format: a .gguf file (llama architecture, tokenizer in
// its metadata) or an HF directory (config.json + model.safetensors or a
// sharded model.safetensors.index.json, optionally tokenizer.json).
#pragma once

#include <filesystem>
#include <memory>

#include "worker/engine/io/model_config.h"
#include "worker/engine/io/tensor_source.h"
#include "worker/engine/tokenizer/tokenizer_data.h"

namespace quantd::engine::io {

// A model opened lazily: tensors stay in the mapped files until loaded.
// Movable, owns its TensorSource; thread-safety as TensorSource.
struct LoadedModel {
  ModelConfig config;
  std::unique_ptr<TensorSource> tensors;
  // From GGUF metadata (kGgufBpe), or pointing at the directory's
  // tokenizer.json (kTokenizerJson); kNone when the model has neither.
  tokenizer::TokenizerData tokenizer;
  // The .gguf file or the model directory as given.
  std::filesystem::path path;
};

// Opens `path`, validating the headers and the config. Throws FormatError
// naming the file and the field or tensor when anything is missing or
// malformed.
LoadedModel OpenModel(const std::filesystem::path& path);

}  // namespace quantd::engine::io
