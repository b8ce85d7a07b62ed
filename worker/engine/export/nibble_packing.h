// Nibble packing of integer codes of at most 4 bits, the layout of the
// packed-weights format (docs/formats/packed-weights.md): along the last
// dimension, codes 2k and 2k+1 share byte k, code 2k in the low nibble
// (bits 0-3) and code 2k+1 in the high nibble (bits 4-7). Signed codes
// ([-8, 7]) are stored as 4-bit two's complement, unsigned codes ([0, 15])
// as they are. When the last dimension n is odd, the high nibble of the last
// byte of every row is 0. Shape [..., n] packs to [..., ceil(n / 2)] uint8.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace quantd::engine::exporting {

// `codes`: int8 with values in [-8, 7] or uint8 with values in [0, 15], at
// least 1-D. Returns uint8 on the CPU. Throws ExportError for another dtype
// or an out-of-range code.
at::Tensor PackNibbles(const at::Tensor& codes);

// The inverse: `packed` uint8 [..., ceil(n / 2)] -> [..., n], int8 when
// `is_signed` (sign-extended) else uint8. Throws ExportError when the
// shapes do not agree.
at::Tensor UnpackNibbles(const at::Tensor& packed, int64_t n, bool is_signed);

}  // namespace quantd::engine::exporting
