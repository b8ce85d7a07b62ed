#include "worker/engine/io/gguf_file.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <optional>
#include <utility>

#include "contract/byte_cursor.h"
#include "contract/format_error.h"
#include "worker/engine/io/checked_math.h"
#include "worker/engine/io/tensor_decode.h"

namespace quantd::engine::io {
namespace {

using contract::internal::ByteCursor;

constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS.

struct GgmlType {
  uint32_t id;
  const char* name;
  std::optional<StorageType> storage;  // nullopt: known but unsupported.
};

constexpr std::array<GgmlType, 32> kGgmlTypes = {{
    {0, "F32", StorageType::kF32},    {1, "F16", StorageType::kF16},
    {2, "Q4_0", StorageType::kQ4_0},  {3, "Q4_1", StorageType::kQ4_1},
    {6, "Q5_0", std::nullopt},        {7, "Q5_1", std::nullopt},
    {8, "Q8_0", StorageType::kQ8_0},  {9, "Q8_1", std::nullopt},
    {10, "Q2_K", std::nullopt},       {11, "Q3_K", std::nullopt},
    {12, "Q4_K", StorageType::kQ4_K}, {13, "Q5_K", std::nullopt},
    {14, "Q6_K", StorageType::kQ6_K}, {15, "Q8_K", std::nullopt},
    {16, "IQ2_XXS", std::nullopt},    {17, "IQ2_XS", std::nullopt},
    {18, "IQ3_XXS", std::nullopt},    {19, "IQ1_S", std::nullopt},
    {20, "IQ4_NL", std::nullopt},     {21, "IQ3_S", std::nullopt},
    {22, "IQ2_S", std::nullopt},      {23, "IQ4_XS", std::nullopt},
    {24, "I8", StorageType::kI8},     {25, "I16", StorageType::kI16},
    {26, "I32", StorageType::kI32},   {27, "I64", StorageType::kI64},
    {28, "F64", StorageType::kF64},   {29, "IQ1_M", std::nullopt},
    {30, "BF16", StorageType::kBF16}, {34, "TQ1_0", std::nullopt},
    {35, "TQ2_0", std::nullopt},      {39, "MXFP4", std::nullopt},
}};

StorageType StorageForGgmlType(ByteCursor& cursor, uint32_t id) {
  for (const GgmlType& type : kGgmlTypes) {
    if (type.id != id) continue;
    if (!type.storage) {
      cursor.Fail(std::string("unsupported tensor type ") + type.name + " (" +
                  std::to_string(id) +
                  "); supported: F32 F16 BF16 F64 I8 I16 I32 I64 Q8_0 Q4_0 "
                  "Q4_1 Q4_K Q6_K");
    }
    return *type.storage;
  }
  cursor.Fail("unknown tensor type " + std::to_string(id));
}

}  // namespace

GgufFile::GgufFile(const std::filesystem::path& path)
    : file_(path), header_(path) {
  ByteCursor cursor(file_.data(), path);
  header_ = contract::ParseGgufHeader(cursor);
  ParseTensorInfos(cursor);
  PlaceDataSection(cursor.position());
}

GgufTensorInfo GgufFile::ParseTensorInfo(ByteCursor& cursor) {
  GgufTensorInfo info;
  info.name = cursor.ReadString("tensor name");
  cursor.SetSubject(FormatError::Subject::kTensor, info.name);
  if (index_.contains(info.name)) cursor.Fail("duplicate tensor name");
  const auto n_dims = cursor.Read<uint32_t>("n_dims");
  if (n_dims == 0 || n_dims > kMaxDims) {
    cursor.Fail("n_dims " + std::to_string(n_dims) + " is not in 1..4");
  }
  for (uint32_t d = 0; d < n_dims; ++d) {
    const auto dim = cursor.Read<int64_t>("dimension");
    if (dim < 0) {
      cursor.Fail("dimension " + std::to_string(d) + " is negative (" +
                  std::to_string(dim) + ")");
    }
    info.dims.push_back(dim);
  }
  const auto numel = internal::CheckedNumel(info.dims);
  if (!numel) cursor.Fail("element count overflows");
  info.ggml_type = cursor.Read<uint32_t>("type");
  info.storage = StorageForGgmlType(cursor, info.ggml_type);
  const StorageLayout layout = LayoutOf(info.storage);
  if (info.dims[0] % layout.block_elements != 0) {
    cursor.Fail("row length " + std::to_string(info.dims[0]) +
                " is not a multiple of the block size " +
                std::to_string(layout.block_elements) + " of " +
                StorageTypeName(info.storage));
  }
  const int64_t size = StorageSizeBytes(info.storage, *numel);
  if (size < 0) cursor.Fail("byte size overflows");
  info.size_bytes = static_cast<uint64_t>(size);
  info.offset = cursor.Read<uint64_t>("offset");
  info.shape.assign(info.dims.rbegin(), info.dims.rend());
  return info;
}

void GgufFile::ParseTensorInfos(ByteCursor& cursor) {
  tensors_.reserve(static_cast<size_t>(header_.tensor_count));
  for (uint64_t i = 0; i < header_.tensor_count; ++i) {
    cursor.SetSubject(FormatError::Subject::kTensor, "#" + std::to_string(i));
    GgufTensorInfo info = ParseTensorInfo(cursor);
    index_.emplace(info.name, tensors_.size());
    tensors_.push_back(std::move(info));
  }
}

void GgufFile::PlaceDataSection(uint64_t header_end) {
  const uint64_t file_size = file_.size_bytes();
  // header_end <= file_size, so adding alignment - 1 cannot overflow.
  data_offset_ = (header_end + header_.alignment - 1) / header_.alignment *
                 header_.alignment;
  if (data_offset_ > file_size && !tensors_.empty()) {
    throw FormatError::ForFile(
        path(), "truncated: the data section would start at offset " +
                    std::to_string(data_offset_) + ", past the end (" +
                    std::to_string(file_size) + " bytes)");
  }
  const uint64_t data_size =
      data_offset_ > file_size ? 0 : file_size - data_offset_;
  std::vector<const GgufTensorInfo*> by_offset;
  for (const GgufTensorInfo& info : tensors_) {
    if (info.offset % header_.alignment != 0) {
      throw FormatError::ForTensor(path(), info.name,
                                   "offset " + std::to_string(info.offset) +
                                       " is not a multiple of the alignment " +
                                       std::to_string(header_.alignment));
    }
    const auto end = internal::CheckedAdd(info.offset, info.size_bytes);
    if (!end || *end > data_size) {
      throw FormatError::ForTensor(
          path(), info.name,
          "data at offset " + std::to_string(info.offset) + " (" +
              std::to_string(info.size_bytes) +
              " bytes) runs past the end of the data section (" +
              std::to_string(data_size) + " bytes)");
    }
    if (info.size_bytes > 0) by_offset.push_back(&info);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensorInfo* a, const GgufTensorInfo* b) {
              return a->offset < b->offset;
            });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const GgufTensorInfo& previous = *by_offset[i - 1];
    if (by_offset[i]->offset < previous.offset + previous.size_bytes) {
      throw FormatError::ForTensor(
          path(), by_offset[i]->name,
          "data overlaps tensor '" + previous.name + "'");
    }
  }
}

const GgufTensorInfo* GgufFile::FindTensor(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const std::byte> GgufFile::TensorBytes(
    const GgufTensorInfo& info) const {
  return file_.data().subspan(data_offset_ + info.offset, info.size_bytes);
}

at::Tensor GgufFile::LoadFloat(const GgufTensorInfo& info) const {
  const std::span<const std::byte> bytes = TensorBytes(info);
  at::Tensor tensor = DecodeToFloat(info.storage, bytes, info.shape);
  file_.Evict(bytes);
  return tensor;
}

}  // namespace quantd::engine::io
