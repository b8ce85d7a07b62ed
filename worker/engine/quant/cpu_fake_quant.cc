#include "worker/engine/quant/cpu_fake_quant.h"

#include <ATen/Parallel.h>

#include <algorithm>

#include "worker/engine/cuda/fake_quant_math.h"

namespace quantd::engine::quant::internal {
namespace {

// Elements per parallel task.
constexpr int64_t kGrain = 1 << 15;

bool FloatCpu(const at::Tensor& t) {
  return t.defined() && t.device().is_cpu() && t.scalar_type() == at::kFloat &&
         t.is_contiguous();
}

// Whether `p` holds one value, or one per index of x's first dimension
// (broadcasting over the rest).
bool OnePerRowOrOne(const at::Tensor& p, const at::Tensor& x) {
  if (p.numel() == 1) return true;
  if (x.dim() == 0 || p.dim() > x.dim() || p.numel() != x.size(0)) {
    return false;
  }
  return p.dim() == x.dim() || (p.dim() == 1 && x.dim() == 1);
}

// One contiguous run of a row, all with the same (Δ, zp). The ifunc clones
// let the compiler vectorise the division and the half-to-even rounding
// (vroundps) where the CPU has AVX2, with the same IEEE results.
__attribute__((target_clones("avx2", "default"))) void FakeQuantizeRun(
    const float* in, float* out, int64_t count, float scale, float zero_point,
    float qmin, float qmax) {
  for (int64_t i = 0; i < count; ++i) {
    out[i] = cuda::FakeQuantValue(in[i], scale, zero_point, qmin, qmax);
  }
}

}  // namespace

std::optional<at::Tensor> CpuFakeQuantize(const at::Tensor& x,
                                          const at::Tensor& scale,
                                          const at::Tensor& zero_point,
                                          int64_t qmin, int64_t qmax) {
  if (!FloatCpu(x) || !FloatCpu(scale) || !FloatCpu(zero_point) ||
      x.numel() == 0 || scale.numel() != zero_point.numel() ||
      !OnePerRowOrOne(scale, x) || !OnePerRowOrOne(zero_point, x)) {
    return std::nullopt;
  }
  at::Tensor out = at::empty_like(x);
  const float* in = x.const_data_ptr<float>();
  float* result = out.data_ptr<float>();
  const float* scales = scale.const_data_ptr<float>();
  const float* zero_points = zero_point.const_data_ptr<float>();
  const bool per_row = scale.numel() > 1;
  const int64_t numel = x.numel();
  const int64_t row_size = per_row ? numel / x.size(0) : numel;
  const float lo = static_cast<float>(qmin);
  const float hi = static_cast<float>(qmax);
  at::parallel_for(0, numel, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end;) {
      const int64_t row = i / row_size;
      const int64_t run_end = std::min(end, (row + 1) * row_size);
      const int64_t p = per_row ? row : 0;
      FakeQuantizeRun(in + i, result + i, run_end - i, scales[p],
                      zero_points[p], lo, hi);
      i = run_end;
    }
  });
  return out;
}

}  // namespace quantd::engine::quant::internal
