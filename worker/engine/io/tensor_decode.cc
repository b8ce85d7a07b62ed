#include "worker/engine/io/tensor_decode.h"

#include <c10/util/accumulate.h>

#include <cstring>

#include "worker/engine/io/checked_math.h"

namespace quantd::engine::io {
namespace {

// The ATen dtype a plain storage type is copied into before conversion.
at::ScalarType PlainScalarType(StorageType type) {
  switch (type) {
    case StorageType::kF32:
      return at::kFloat;
    case StorageType::kF16:
      return at::kHalf;
    case StorageType::kBF16:
      return at::kBFloat16;
    case StorageType::kF64:
      return at::kDouble;
    case StorageType::kI8:
      return at::kChar;
    case StorageType::kI16:
      return at::kShort;
    case StorageType::kI32:
      return at::kInt;
    case StorageType::kI64:
      return at::kLong;
    // Bytes other than 0/1 are not valid bools; decode as bytes and test
    // for non-zero instead.
    case StorageType::kU8:
    case StorageType::kBool:
      return at::kByte;
    default:
      return at::kByte;
  }
}

bool IsBlockType(StorageType type) { return LayoutOf(type).block_elements > 1; }

}  // namespace

StorageLayout LayoutOf(StorageType type) {
  switch (type) {
    case StorageType::kF32:
      return {1, 4};
    case StorageType::kF16:
      return {1, 2};
    case StorageType::kBF16:
      return {1, 2};
    case StorageType::kF64:
      return {1, 8};
    case StorageType::kI8:
      return {1, 1};
    case StorageType::kU8:
      return {1, 1};
    case StorageType::kI16:
      return {1, 2};
    case StorageType::kI32:
      return {1, 4};
    case StorageType::kI64:
      return {1, 8};
    case StorageType::kBool:
      return {1, 1};
    case StorageType::kQ8_0:
      return {32, 34};
    case StorageType::kQ4_0:
      return {32, 18};
    case StorageType::kQ4_1:
      return {32, 20};
    case StorageType::kQ4_K:
      return {256, 144};
    case StorageType::kQ6_K:
      return {256, 210};
  }
  return {1, 1};
}

int64_t StorageSizeBytes(StorageType type, int64_t numel) {
  const StorageLayout layout = LayoutOf(type);
  if (numel < 0 || numel % layout.block_elements != 0) return -1;
  auto bytes =
      internal::CheckedMul(static_cast<uint64_t>(numel / layout.block_elements),
                           static_cast<uint64_t>(layout.block_bytes));
  if (!bytes || *bytes > static_cast<uint64_t>(INT64_MAX)) return -1;
  return static_cast<int64_t>(*bytes);
}

at::Tensor DecodeToFloat(StorageType type, std::span<const std::byte> bytes,
                         at::IntArrayRef shape) {
  TORCH_INTERNAL_ASSERT(
      static_cast<int64_t>(bytes.size()) ==
          StorageSizeBytes(type, c10::multiply_integers(shape)),
      "caller must validate the byte count");
  if (IsBlockType(type)) {
    at::Tensor out = at::empty(shape, at::kFloat);
    const int64_t blocks = out.numel() / LayoutOf(type).block_elements;
    internal::DequantizeBlocks(type, bytes.data(), blocks,
                               out.data_ptr<float>());
    return out;
  }
  // Copy first: file offsets carry no alignment guarantee for the dtype.
  at::Tensor raw = at::empty(shape, PlainScalarType(type));
  if (!bytes.empty()) std::memcpy(raw.data_ptr(), bytes.data(), bytes.size());
  if (type == StorageType::kBool) return raw.ne(0).to(at::kFloat);
  return raw.to(at::kFloat);
}

}  // namespace quantd::engine::io
