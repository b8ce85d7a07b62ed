// TensorSource: read-only, lazily loaded access to a model's tensors by HF
// name, backed by mmapped safetensors shards or a GGUF file. Nothing is
// copied until a tensor is asked for, so only the tensors in use (embedding,
// one block, head) are ever resident.
//
// Thread-safety: all methods are const and safe to call concurrently.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace quantd::engine::io {

// How a tensor is stored on disk.
enum class StorageType {
  kF32,
  kF16,
  kBF16,
  kF64,
  kI8,
  kU8,
  kI16,
  kI32,
  kI64,
  kBool,
  // GGUF block-quantized types.
  kQ8_0,
  kQ4_0,
  kQ4_1,
  kQ4_K,
  kQ6_K,
};

const char* StorageTypeName(StorageType type);

struct TensorInfo {
  std::string name;     // HF name, e.g. "model.layers.0.mlp.up_proj.weight".
  StorageType storage;  // As stored.
  std::vector<int64_t> shape;  // PyTorch order (outermost first).
  uint64_t size_bytes = 0;     // Bytes on disk.
};

class TensorSource {
 public:
  virtual ~TensorSource() = default;

  // Every tensor, in file order.
  virtual const std::vector<TensorInfo>& Tensors() const = 0;
  virtual bool Contains(std::string_view name) const = 0;
  // Loads one tensor as a contiguous CPU tensor of float32, dequantizing
  // block-quantized storage exactly as its format defines. Throws
  // io::FormatError (naming the file and the tensor) when the name is
  // missing or the data is invalid.
  virtual at::Tensor LoadFloat(std::string_view name) const = 0;
  // Where the tensors come from, for messages ("model.safetensors", ...).
  virtual std::string Describe() const = 0;
};

}  // namespace quantd::engine::io
