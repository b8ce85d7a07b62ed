// Decoding of stored tensor bytes into float32, shared by the safetensors
// and GGUF readers: plain element types are converted with ATen, the GGUF
// block-quantized types are dequantized exactly as ggml defines them
// (ggml-quants.c, dequantize_row_*).
#pragma once

#include <ATen/ATen.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "worker/engine/io/tensor_source.h"

namespace quantd::engine::io {

// Storage is a run of blocks: `elements` values packed into `bytes` bytes
// (1 element per block for plain types).
struct StorageLayout {
  int64_t block_elements;
  int64_t block_bytes;
};

StorageLayout LayoutOf(StorageType type);

// Bytes needed to store `numel` elements, or -1 when numel is not a whole
// number of blocks or the size overflows.
int64_t StorageSizeBytes(StorageType type, int64_t numel);

// Decodes `bytes` (exactly StorageSizeBytes(type, numel(shape)) long; the
// caller validated that) into a new contiguous float32 CPU tensor of
// `shape`. `bytes` needs no particular alignment.
at::Tensor DecodeToFloat(StorageType type, std::span<const std::byte> bytes,
                         at::IntArrayRef shape);

namespace internal {

// Dequantizes `block_count` consecutive blocks of a block-quantized type
// into block_count * block_elements floats. Exposed for tests.
void DequantizeBlocks(StorageType type, const std::byte* blocks,
                      int64_t block_count, float* out);

}  // namespace internal
}  // namespace quantd::engine::io
