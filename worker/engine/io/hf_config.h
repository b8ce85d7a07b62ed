// Parsing of Hugging Face config.json files into ModelConfig, for the
// architectures the engine runs: LLaMA family (model_type llama, mistral,
// qwen2), OPT and BERT. Unknown keys are ignored; every key the engine
// uses is checked for presence, type and range, and rejected with a
// FormatError naming the file and the field.
#pragma once

#include <filesystem>
#include <string_view>

#include "worker/engine/io/model_config.h"

namespace quantd::engine::io {

// Reads and parses `config_json`. Throws FormatError.
ModelConfig LoadHfConfig(const std::filesystem::path& config_json);

// Parses config.json text; `file` only names it in errors.
ModelConfig ParseHfConfig(std::string_view json_text,
                          const std::filesystem::path& file);

}  // namespace quantd::engine::io
