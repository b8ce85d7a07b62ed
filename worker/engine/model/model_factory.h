// Building a Model: MakeModel picks the architecture's implementation for a
// config and a TensorSource; LoadModel opens a model from disk (GGUF file or
// HF directory, via io::OpenModel) together with its tokenizer.
#pragma once

#include <filesystem>
#include <memory>

#include "worker/engine/io/model_config.h"
#include "worker/engine/io/tensor_source.h"
#include "worker/engine/model/model.h"
#include "worker/engine/tokenizer/tokenizer.h"

namespace quantd::engine::model {

// Validates the config fields the forward depends on (sizes positive, heads
// dividing evenly, ...) and builds the architecture's Model. Throws
// ModelError naming the config field or tensor at fault.
std::unique_ptr<Model> MakeModel(const io::ModelConfig& config,
                                 std::shared_ptr<const io::TensorSource> source,
                                 const ModelOptions& options);

// A model and its tokenizer, as opened from disk. Movable.
struct LoadedModel {
  io::ModelConfig config;
  std::unique_ptr<Model> model;
  // Null when the model ships no tokenizer.
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
  std::filesystem::path path;
};

// io::OpenModel + MakeModel + tokenizer::MakeTokenizer. Throws
// io::FormatError, ModelError or tokenizer::TokenizerError.
LoadedModel LoadModel(const std::filesystem::path& path,
                      const ModelOptions& options);

}  // namespace quantd::engine::model
