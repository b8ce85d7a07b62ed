#include "worker/engine/io/model_loader.h"

#include <system_error>
#include <utility>

#include "worker/engine/io/format_error.h"
#include "worker/engine/io/gguf_config.h"
#include "worker/engine/io/gguf_reader.h"
#include "worker/engine/io/hf_config.h"
#include "worker/engine/io/safetensors_reader.h"

namespace quantd::engine::io {
namespace {

bool IsFile(const std::filesystem::path& path) {
  std::error_code error;
  return std::filesystem::is_regular_file(path, error);
}

LoadedModel OpenGguf(const std::filesystem::path& path) {
  LoadedModel model;
  auto reader = GgufReader::Open(path);
  model.config = ConfigFromGguf(reader->file());
  model.tokenizer = TokenizerFromGguf(reader->file());
  model.tensors = std::move(reader);
  model.path = path;
  return model;
}

LoadedModel OpenHfDirectory(const std::filesystem::path& directory) {
  LoadedModel model;
  const std::filesystem::path config = directory / "config.json";
  if (!IsFile(config)) {
    throw FormatError::ForFile(directory,
                               "no config.json in the model directory");
  }
  model.config = LoadHfConfig(config);
  const std::filesystem::path index =
      directory / "model.safetensors.index.json";
  const std::filesystem::path single = directory / "model.safetensors";
  if (IsFile(index)) {
    model.tensors = SafetensorsReader::OpenIndex(index);
  } else if (IsFile(single)) {
    model.tensors = SafetensorsReader::OpenFile(single);
  } else {
    throw FormatError::ForFile(directory,
                               "no model.safetensors or "
                               "model.safetensors.index.json in the model "
                               "directory");
  }
  const std::filesystem::path tokenizer_json = directory / "tokenizer.json";
  if (IsFile(tokenizer_json)) {
    model.tokenizer.kind = tokenizer::TokenizerData::Kind::kTokenizerJson;
    model.tokenizer.tokenizer_json = tokenizer_json;
    model.tokenizer.bos_id = model.config.bos_token_id;
    model.tokenizer.eos_id = model.config.eos_token_id;
    model.tokenizer.pad_id = model.config.pad_token_id;
  }
  model.path = directory;
  return model;
}

}  // namespace

LoadedModel OpenModel(const std::filesystem::path& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) return OpenHfDirectory(path);
  if (IsFile(path)) return OpenGguf(path);
  throw FormatError::ForFile(path, "no such model file or directory");
}

}  // namespace quantd::engine::io
