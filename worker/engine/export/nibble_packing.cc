#include "worker/engine/export/nibble_packing.h"

#include <string>

#include "worker/engine/export/export_error.h"

namespace quantd::engine::exporting {

at::Tensor PackNibbles(const at::Tensor& codes) {
  if (!codes.defined() || codes.dim() < 1) {
    throw ExportError("PackNibbles: codes must be at least 1-D");
  }
  const bool is_signed = codes.scalar_type() == at::kChar;
  if (!is_signed && codes.scalar_type() != at::kByte) {
    throw ExportError(std::string("PackNibbles: codes must be int8 or uint8, "
                                  "got ") +
                      c10::toString(codes.scalar_type()));
  }
  at::Tensor wide = codes.to(at::kCPU).to(at::kShort);
  if (wide.numel() > 0) {
    const int64_t low = wide.min().item<int64_t>();
    const int64_t high = wide.max().item<int64_t>();
    if (low < (is_signed ? -8 : 0) || high > (is_signed ? 7 : 15)) {
      throw ExportError("PackNibbles: codes in [" + std::to_string(low) + ", " +
                        std::to_string(high) + "] do not fit 4 bits");
    }
  }
  const int64_t n = codes.size(-1);
  if (n % 2 != 0) {
    std::vector<int64_t> pad_shape = wide.sizes().vec();
    pad_shape.back() = 1;
    wide = at::cat({wide, at::zeros(pad_shape, wide.options())}, -1);
  }
  // Two's complement in 4 bits: the low nibble of the 8-bit pattern.
  at::Tensor nibbles = at::bitwise_and(wide, 0x0F);
  std::vector<int64_t> pairs = nibbles.sizes().vec();
  pairs.back() /= 2;
  pairs.push_back(2);
  nibbles = nibbles.reshape(pairs);
  at::Tensor packed = nibbles.select(-1, 0) + nibbles.select(-1, 1) * 16;
  return packed.to(at::kByte).contiguous();
}

at::Tensor UnpackNibbles(const at::Tensor& packed, int64_t n, bool is_signed) {
  if (!packed.defined() || packed.dim() < 1 ||
      packed.scalar_type() != at::kByte || n < 0 ||
      packed.size(-1) != (n + 1) / 2) {
    throw ExportError("UnpackNibbles: packed must be uint8 [..., " +
                      std::to_string((n + 1) / 2) + "] for " +
                      std::to_string(n) + " codes a row");
  }
  at::Tensor wide = packed.to(at::kCPU).to(at::kShort);
  at::Tensor low = at::bitwise_and(wide, 0x0F);
  at::Tensor high = at::bitwise_right_shift(wide, 4);
  at::Tensor codes = at::stack({low, high}, -1).flatten(-2);
  codes = codes.narrow(-1, 0, n);
  if (is_signed) codes = codes - at::ge(codes, 8).to(at::kShort) * 16;
  return codes.to(is_signed ? at::kChar : at::kByte).contiguous();
}

}  // namespace quantd::engine::exporting
