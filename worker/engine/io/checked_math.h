// Overflow-checked integer arithmetic for sizes read from untrusted files:
// every product of dimensions and every offset + length goes through here.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace quantd::engine::io::internal {

inline std::optional<uint64_t> CheckedMul(uint64_t a, uint64_t b) {
  uint64_t result = 0;
  if (__builtin_mul_overflow(a, b, &result)) return std::nullopt;
  return result;
}

inline std::optional<uint64_t> CheckedAdd(uint64_t a, uint64_t b) {
  uint64_t result = 0;
  if (__builtin_add_overflow(a, b, &result)) return std::nullopt;
  return result;
}

// Product of non-negative dimensions, or nullopt when a dimension is
// negative or the product exceeds INT64_MAX (the largest numel ATen takes).
inline std::optional<int64_t> CheckedNumel(std::span<const int64_t> dims) {
  uint64_t numel = 1;
  for (int64_t dim : dims) {
    if (dim < 0) return std::nullopt;
    auto next = CheckedMul(numel, static_cast<uint64_t>(dim));
    if (!next || *next > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    numel = *next;
  }
  return static_cast<int64_t>(numel);
}

}  // namespace quantd::engine::io::internal
