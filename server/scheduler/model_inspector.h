// Finds out what the scheduler needs to know about a job's model before
// accepting it: where a file:// URI really points (confined to the allowed
// roots, with no ".." and no symlink escape) and the model's shape, read
// cheaply from its config.json or GGUF header, else only its size on disk.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace quantd::scheduler {

// Canonical directories that file:// URIs may point into.
class AllowedRoots {
 public:
  // Canonicalises each root; InvalidArgument for one that does not exist.
  [[nodiscard]] static absl::StatusOr<AllowedRoots> Create(
      const std::vector<std::string>& roots);
  AllowedRoots() = default;

  // Resolves "file:///abs/path" to its canonical path, or InvalidArgument
  // naming `field`: wrong scheme, relative path, "..", missing file, or a
  // target (after symlinks) outside every root.
  [[nodiscard]] absl::StatusOr<std::string> Resolve(
      const std::string& uri, const std::string& field) const;
  const std::vector<std::string>& roots() const { return roots_; }

 private:
  std::vector<std::string> roots_;
};

struct ModelInfo {
  // "hf" (config.json directory), "gguf", or "opaque" (size only).
  std::string format;
  // Bytes of weights on disk (safetensors/bin files, or the whole file).
  uint64_t size_bytes = 0;
  // Shape; 0 when unknown.
  uint64_t hidden_size = 0;
  uint64_t intermediate_size = 0;
  uint64_t num_layers = 0;
  uint64_t vocab_size = 0;
  bool is_encoder = false;
  // config.json's "model_type" (else its first "architectures" class name)
  // or the GGUF general.architecture; "" when unknown (opaque files).
  std::string architecture;
  // A decoder of the LLaMA architecture (llama, mistral, qwen2), which the
  // compressed-tensors and GGUF exports are written for.
  bool llama_family = false;
};

// Inspects a model directory or file at a resolved `path`. A directory needs
// a config.json; a file is read as GGUF when it has the magic, otherwise only
// its size counts. InvalidArgument naming `field` for a malformed model.
[[nodiscard]] absl::StatusOr<ModelInfo> InspectModel(const std::string& path,
                                                     const std::string& field);

}  // namespace quantd::scheduler
