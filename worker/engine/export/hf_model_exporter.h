// HfModelExporter: the model artifact in Hugging Face layout, so the
// exported (transformed) model loads with transformers'
// AutoModelForCausalLM / AutoModel.from_pretrained in its original
// architecture: float32 safetensors under the engine's HF tensor names
// ("model.safetensors", or shards plus "model.safetensors.index.json"),
// config.json (the source's, or one built for a GGUF-sourced LLaMA-family
// model) and the source's tokenizer files (tokenizer_files.h: copied from
// an HF directory, built from a GGUF's metadata).
//
// Tensors arrive one block at a time (Add) and are written into shards as
// they fill (sharded_writer.h), so at most one shard is resident. Not
// thread-safe.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "worker/engine/export/sharded_writer.h"
#include "worker/engine/io/model_config.h"

namespace quantd::engine::exporting {

struct HfModelOptions {
  // Where the model's files go, e.g. "<out>/model".
  std::filesystem::path dir;
  // The model as the job read it: an HF directory (its config.json and
  // tokenizer files are copied) or a .gguf file (config.json and the
  // tokenizer files are built).
  std::filesystem::path source;
  // Tensor data per shard before the output is split; > 0.
  uint64_t max_shard_bytes = uint64_t{1} << 30;
};

class HfModelExporter {
 public:
  // Throws ExportError (e.g. an OPT/BERT model without config.json, a GGUF
  // tokenizer that cannot be exported).
  HfModelExporter(const io::ModelConfig& config, HfModelOptions options);

  // Adds tensors (converted to float32) under their HF names. Throws
  // ExportError for a name added twice.
  void Add(const std::vector<std::pair<std::string, at::Tensor>>& tensors);

  // Writes weights, config.json and tokenizer files; names are relative
  // to options.dir. Throws ExportError.
  std::vector<ShardFile> Finish();

 private:
  std::string ConfigText() const;

  io::ModelConfig config_;
  HfModelOptions options_;
  ShardedSafetensorsWriter weights_;
};

}  // namespace quantd::engine::exporting
