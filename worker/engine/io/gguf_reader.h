// GgufReader: the TensorSource of a llama-architecture GGUF file. Tensors
// carry their HF names and PyTorch shapes, block-quantized ones are
// dequantized on load, and q_proj/k_proj rows are un-permuted, so what it
// returns equals what HF transformers loads from the same file. Tensors
// with no HF counterpart keep their GGUF name.
//
// Ownership: owns the GgufFile (and so its mapping).
// Thread-safety: immutable after Open; safe to call concurrently.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "worker/engine/io/gguf_file.h"
#include "worker/engine/io/gguf_llama_names.h"
#include "worker/engine/io/tensor_source.h"

namespace quantd::engine::io {

class GgufReader : public TensorSource {
 public:
  // Opens and validates `path`. Throws FormatError, also when
  // general.architecture is not "llama" or head counts needed to undo the
  // q/k permutation are missing or do not divide the rows.
  static std::unique_ptr<GgufReader> Open(const std::filesystem::path& path);

  const std::vector<TensorInfo>& Tensors() const override { return tensors_; }
  bool Contains(std::string_view name) const override;
  at::Tensor LoadFloat(std::string_view name) const override;
  std::string Describe() const override;

  const GgufFile& file() const { return *file_; }
  // The stored tensor behind an HF name. Throws FormatError when absent.
  const GgufTensorInfo& StoredTensor(std::string_view name) const;

 private:
  struct Entry {
    const GgufTensorInfo* stored = nullptr;
    RowPermutation permutation = RowPermutation::kNone;
  };

  explicit GgufReader(std::unique_ptr<GgufFile> file);
  void MapTensors();
  void CheckPermutable(const GgufTensorInfo& stored, int64_t head_count,
                       const char* head_count_key) const;
  const Entry& Find(std::string_view name) const;

  std::unique_ptr<GgufFile> file_;
  int64_t head_count_ = 0;
  int64_t kv_head_count_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace quantd::engine::io
