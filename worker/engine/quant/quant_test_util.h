// Helpers shared by the quantizer tests: small explicit tensors and
// bit-exact comparison.
#pragma once

#include <ATen/ATen.h>

#include <initializer_list>
#include <vector>

namespace quantd::engine::quant::testing {

// A float32 CPU tensor of the given values, optionally reshaped.
inline at::Tensor Floats(std::initializer_list<float> values,
                         at::IntArrayRef shape = {}) {
  at::Tensor t = at::tensor(std::vector<float>(values));
  return shape.empty() ? t : t.reshape(shape);
}

inline std::vector<float> Values(const at::Tensor& t) {
  const at::Tensor flat = t.to(at::kCPU, at::kFloat).contiguous().reshape(-1);
  return std::vector<float>(flat.data_ptr<float>(),
                            flat.data_ptr<float>() + flat.numel());
}

// True when a and b have the same shape, dtype and bytes (so -0 != +0 and
// NaN == NaN of the same payload).
inline bool BitEqual(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || !a.sizes().equals(b.sizes())) {
    return false;
  }
  at::ScalarType bits = at::kChar;
  if (a.element_size() == 8) bits = at::kLong;
  if (a.element_size() == 4) bits = at::kInt;
  if (a.element_size() == 2) bits = at::kShort;
  return at::equal(a.to(at::kCPU).contiguous().view(bits),
                   b.to(at::kCPU).contiguous().view(bits));
}

}  // namespace quantd::engine::quant::testing
