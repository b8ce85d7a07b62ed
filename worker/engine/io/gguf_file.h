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

#include "contract/format_error.h"
#include "contract/gguf_header.h"
#include "contract/mapped_file.h"
#include "worker/engine/io/tensor_source.h"

namespace quantd::engine::io {

// The shared readers, named as the engine has always named them.
using contract::FormatError;
using contract::GgufMetadata;
using contract::GgufValue;
using contract::GgufValueType;
using contract::MappedFile;

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
  // Maps and validates `path`. Throws FormatError.
  explicit GgufFile(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return file_.path(); }
  uint32_t version() const { return header_.version; }
  uint64_t alignment() const { return header_.alignment; }
  uint64_t data_offset() const { return data_offset_; }
  const GgufMetadata& metadata() const { return header_.metadata; }
  // In file order.
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  // nullptr when absent.
  const GgufTensorInfo* FindTensor(std::string_view name) const;

  std::span<const std::byte> TensorBytes(const GgufTensorInfo& info) const;
  // Dequantized to float32 in PyTorch shape; names and rows untouched.
  at::Tensor LoadFloat(const GgufTensorInfo& info) const;

 private:
  // Parsing steps after the header, in file order.
  void ParseTensorInfos(contract::internal::ByteCursor& cursor);
  GgufTensorInfo ParseTensorInfo(contract::internal::ByteCursor& cursor);
  void PlaceDataSection(uint64_t header_end);

  MappedFile file_;
  contract::GgufHeader header_;
  uint64_t data_offset_ = 0;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> index_;
};

}  // namespace quantd::engine::io
