#include "worker/engine/model/rope.h"

namespace quantd::engine::model {

std::pair<at::Tensor, at::Tensor> RotaryTables(const at::Tensor& positions,
                                               int64_t head_dim, double theta) {
  at::TensorOptions float_options = positions.options().dtype(at::kFloat);
  at::Tensor exponents =
      at::arange(0, head_dim, 2, positions.options().dtype(at::kLong))
          .to(at::kFloat) /
      static_cast<double>(head_dim);
  at::Tensor inv_freq = 1.0 / at::pow(theta, exponents);
  // [B, D/2, 1] @ [B, 1, T] -> [B, D/2, T] -> [B, T, D/2], as HF does it.
  int64_t batch = positions.size(0);
  at::Tensor freqs =
      at::matmul(inv_freq.view({1, -1, 1}).expand({batch, -1, 1}),
                 positions.to(float_options).unsqueeze(1))
          .transpose(1, 2);
  at::Tensor angles = at::cat({freqs, freqs}, -1);
  return {angles.cos(), angles.sin()};
}

at::Tensor ApplyRotary(const at::Tensor& x, const at::Tensor& cos,
                       const at::Tensor& sin) {
  int64_t half = x.size(-1) / 2;
  at::Tensor rotated =
      at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * cos.unsqueeze(1) + rotated * sin.unsqueeze(1);
}

}  // namespace quantd::engine::model
