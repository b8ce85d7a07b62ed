// GGUF block-quantized formats, decoded exactly as ggml's reference
// dequantize_row_* (ggml-quants.c) and gguf-py's gguf.quants: same block
// layouts, same float operations in the same order, so results match bit
// for bit.
#include <ATen/Parallel.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "worker/engine/io/tensor_decode.h"

namespace quantd::engine::io::internal {
namespace {

static_assert(std::endian::native == std::endian::little,
              "GGUF blocks are little-endian; a big-endian host needs swaps");

constexpr int64_t kQk = 32;    // Elements in a Q4_0/Q4_1/Q8_0 block.
constexpr int64_t kQkK = 256;  // Elements in a K-quant super-block.

// IEEE half to float, exact for every input (normals, subnormals, inf, NaN
// with its payload), without depending on ATen's internal helpers.
float HalfToFloat(const std::byte* p) {
  uint16_t h = 0;
  std::memcpy(&h, p, sizeof(h));
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu;
  const uint32_t mantissa = h & 0x3FFu;
  if (exponent == 0) {
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return sign != 0 ? -magnitude : magnitude;
  }
  const uint32_t bits =
      exponent == 0x1F ? sign | 0x7F800000u | (mantissa << 13)
                       : sign | ((exponent + 112) << 23) | (mantissa << 13);
  return std::bit_cast<float>(bits);
}

const uint8_t* Bytes(const std::byte* p) {
  return reinterpret_cast<const uint8_t*>(p);
}

// block_q4_0 { half d; uint8 qs[16]; }: x = (q - 8) * d.
void DequantizeQ4_0(const std::byte* block, float* y) {
  const float d = HalfToFloat(block);
  const uint8_t* qs = Bytes(block + 2);
  for (int j = 0; j < kQk / 2; ++j) {
    const int x0 = (qs[j] & 0x0F) - 8;
    const int x1 = (qs[j] >> 4) - 8;
    y[j] = static_cast<float>(x0) * d;
    y[j + kQk / 2] = static_cast<float>(x1) * d;
  }
}

// block_q4_1 { half d; half m; uint8 qs[16]; }: x = q * d + m.
void DequantizeQ4_1(const std::byte* block, float* y) {
  const float d = HalfToFloat(block);
  const float m = HalfToFloat(block + 2);
  const uint8_t* qs = Bytes(block + 4);
  for (int j = 0; j < kQk / 2; ++j) {
    const int x0 = qs[j] & 0x0F;
    const int x1 = qs[j] >> 4;
    y[j] = static_cast<float>(x0) * d + m;
    y[j + kQk / 2] = static_cast<float>(x1) * d + m;
  }
}

// block_q8_0 { half d; int8 qs[32]; }: x = q * d.
void DequantizeQ8_0(const std::byte* block, float* y) {
  const float d = HalfToFloat(block);
  for (int j = 0; j < kQk; ++j) {
    const auto q = static_cast<int8_t>(Bytes(block + 2)[j]);
    y[j] = static_cast<float>(q) * d;
  }
}

// The 12 packed bytes of Q4_K hold eight 6-bit scales and eight 6-bit mins
// (ggml's get_scale_min_k4).
void ScaleMinK4(int j, const uint8_t* q, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = q[j] & 63;
    *min = q[j + 4] & 63;
  } else {
    *scale = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
    *min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// block_q4_K { half d; half dmin; uint8 scales[12]; uint8 qs[128]; }:
// eight sub-blocks of 32, x = d * scale * q - dmin * min.
void DequantizeQ4_K(const std::byte* block, float* y) {
  const float d = HalfToFloat(block);
  const float dmin = HalfToFloat(block + 2);
  const uint8_t* scales = Bytes(block + 4);
  const uint8_t* q = Bytes(block + 16);
  for (int j = 0, is = 0; j < kQkK; j += 64, is += 2, q += 32) {
    uint8_t scale = 0;
    uint8_t min = 0;
    ScaleMinK4(is, scales, &scale, &min);
    const float d1 = d * static_cast<float>(scale);
    const float m1 = dmin * static_cast<float>(min);
    ScaleMinK4(is + 1, scales, &scale, &min);
    const float d2 = d * static_cast<float>(scale);
    const float m2 = dmin * static_cast<float>(min);
    for (int l = 0; l < 32; ++l)
      *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
  }
}

// block_q6_K { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; half d; }:
// 6-bit q from 4 low + 2 high bits, x = d * scale * (q - 32).
void DequantizeQ6_K(const std::byte* block, float* y) {
  const uint8_t* ql = Bytes(block);
  const uint8_t* qh = Bytes(block + 128);
  const auto* sc = reinterpret_cast<const int8_t*>(block + 192);
  const float d = HalfToFloat(block + 208);
  for (int n = 0; n < kQkK; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l + 0] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q1);
      y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
      y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
      y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
    }
  }
}

using BlockFunction = void (*)(const std::byte*, float*);

BlockFunction BlockFunctionFor(StorageType type) {
  switch (type) {
    case StorageType::kQ4_0:
      return DequantizeQ4_0;
    case StorageType::kQ4_1:
      return DequantizeQ4_1;
    case StorageType::kQ8_0:
      return DequantizeQ8_0;
    case StorageType::kQ4_K:
      return DequantizeQ4_K;
    case StorageType::kQ6_K:
      return DequantizeQ6_K;
    default:
      return nullptr;
  }
}

}  // namespace

void DequantizeBlocks(StorageType type, const std::byte* blocks,
                      int64_t block_count, float* out) {
  const BlockFunction function = BlockFunctionFor(type);
  TORCH_INTERNAL_ASSERT(function != nullptr,
                        "not a block type: ", StorageTypeName(type));
  const StorageLayout layout = LayoutOf(type);
  // ~64 KiB of output per task keeps scheduling overhead negligible.
  const int64_t grain = std::max<int64_t>(1, 16384 / layout.block_elements);
  at::parallel_for(0, block_count, grain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      function(blocks + i * layout.block_bytes,
               out + i * layout.block_elements);
    }
  });
}

}  // namespace quantd::engine::io::internal
