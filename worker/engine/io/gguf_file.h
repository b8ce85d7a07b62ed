// GgufFile: a parsed, fully validated GGUF v2/v3 file: its metadata, its
// tensor directory and the mapped data section. Names and shapes are as
// stored (no renaming, no layout changes except reporting dims in PyTorch
// order); GgufReader builds the HF-named TensorSource on top.
//
// Validation on open: magic, version (2 or 3), counts bounded by the file
// size, every string and array inside the file, metadata types, alignment
// (general.alignment, a power of two, default 32), tensor rank 1..4, dims
// non-negative without overflow, supported tensor types, whole blocks per
// row, offsets aligned and inside the data section, no overlaps, no
// duplicate names.
//
// Ownership: owns the mapping. Thread-safety: immutable after
// construction; safe to read concurrently.
#pragma once

#include <ATen/ATen.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "worker/engine/io/gguf_metadata.h"
#include "worker/engine/io/mapped_file.h"
#include "worker/engine/io/tensor_source.h"

namespace quantd::engine::io {

struct GgufTensorInfo {
  std::string name;  // As stored, e.g. "blk.0.attn_q.weight".
  StorageType storage = StorageType::kF32;
  uint32_t ggml_type = 0;  // The ggml_type number in the file.
  // ggml order: dims[0] is the innermost (contiguous) dimension.
  std::vector<int64_t> dims;
  // PyTorch order: dims reversed, outermost first.
  std::vector<int64_t> shape;
  uint64_t offset = 0;  // From the start of the data section.
  uint64_t size_bytes = 0;
};

class GgufFile {
 public:
  static constexpr uint64_t kDefaultAlignment = 32;

  // Maps and validates `path`. Throws FormatError.
  explicit GgufFile(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return file_.path(); }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  const GgufMetadata& metadata() const { return metadata_; }
  // In file order.
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  // nullptr when absent.
  const GgufTensorInfo* FindTensor(std::string_view name) const;

  std::span<const std::byte> TensorBytes(const GgufTensorInfo& info) const;
  // Dequantized to float32 in PyTorch shape; names and rows untouched.
  at::Tensor LoadFloat(const GgufTensorInfo& info) const;

 private:
  // Parsing steps, in file order.
  void ParseMetadata(internal::ByteCursor& cursor, uint64_t count);
  void ParseTensorInfos(internal::ByteCursor& cursor, uint64_t count);
  GgufTensorInfo ParseTensorInfo(internal::ByteCursor& cursor);
  void ReadAlignment();
  void PlaceDataSection(uint64_t header_end);

  MappedFile file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  GgufMetadata metadata_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> index_;
};

}  // namespace quantd::engine::io
