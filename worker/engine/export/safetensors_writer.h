// SafetensorsWriter: writes the safetensors format (an 8-byte little-endian
// header length, a JSON header mapping each tensor name to {dtype, shape,
// data_offsets} plus an optional "__metadata__" string map, then the raw
// little-endian tensor bytes) for every artifact the exporter produces.
//
// Output is deterministic: tensors are laid out in byte-wise name order,
// the header is compact JSON with sorted keys, and it is padded with spaces
// so the data starts 8-byte aligned. The same tensors and metadata always
// give the same bytes. Writing goes through AtomicFile: a writer destroyed
// before Commit leaves no file at the destination.
//
// Supported dtypes: F32 F16 BF16 F64 I64 I32 I16 I8 U8 BOOL.
//
// Ownership: the writer owns its AtomicFile; the caller keeps the bytes it
// passes alive only for the duration of each call. Not thread-safe.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "worker/engine/export/atomic_file.h"

namespace quantd::engine::exporting {

// One tensor's entry in the header.
struct TensorLayout {
  std::string name;
  std::string dtype;           // Safetensors name, e.g. "F32", "U8".
  std::vector<int64_t> shape;  // Outermost first; {} for a scalar.
  uint64_t size_bytes = 0;     // Must equal numel · element size.
};

// "F32" for at::kFloat, ... Throws ExportError for other types.
std::string SafetensorsDtype(at::ScalarType type);
// Bytes per element of a safetensors dtype. Throws ExportError.
uint64_t DtypeElementBytes(std::string_view dtype);
// The layout of a tensor (any device, any strides) under `name`.
TensorLayout LayoutOf(const std::string& name, const at::Tensor& tensor);

// The complete header block (length prefix included) for `layouts` in the
// given order. Throws ExportError for duplicate or empty names or a size
// that does not match dtype and shape.
std::string SafetensorsHeader(
    const std::vector<TensorLayout>& layouts,
    const std::map<std::string, std::string>& metadata,
    const std::filesystem::path& path);

class SafetensorsWriter {
 public:
  // Validates the layouts, sorts them by name and writes the header to the
  // temporary file. Throws ExportError naming `path`.
  SafetensorsWriter(const std::filesystem::path& path,
                    std::vector<TensorLayout> layouts,
                    const std::map<std::string, std::string>& metadata);

  // The tensors in the order their bytes must be written.
  const std::vector<TensorLayout>& layouts() const { return layouts_; }

  // Appends the bytes of the next tensor in layouts() order; `name` must be
  // that tensor and `bytes` its full size. Throws ExportError otherwise.
  void WriteTensor(std::string_view name, std::span<const std::byte> bytes);

  // Every tensor must have been written. Throws ExportError.
  WrittenFile Commit();

 private:
  std::vector<TensorLayout> layouts_;  // Sorted and validated first.
  AtomicFile file_;
  size_t next_ = 0;
};

// Writes `tensors` (any device; copied to contiguous CPU memory one at a
// time) with `metadata`. Throws ExportError.
WrittenFile WriteSafetensors(
    const std::filesystem::path& path,
    const std::vector<std::pair<std::string, at::Tensor>>& tensors,
    const std::map<std::string, std::string>& metadata = {});

// The raw bytes of a contiguous CPU tensor.
std::span<const std::byte> TensorBytes(const at::Tensor& contiguous_cpu);

}  // namespace quantd::engine::exporting
