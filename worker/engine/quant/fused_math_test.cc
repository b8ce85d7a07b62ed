// Host-side parity of the CUDA kernels' scalar arithmetic
// (cuda/fake_quant_math.h, compiled here by the host compiler) with the
// LibTorch path, bit for bit. Runs on CPU in every CUDA build; the device
// itself is covered by fake_quant_gpu_test.cc.
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <vector>

#include "worker/engine/cuda/fake_quant_math.h"
#include "worker/engine/quant/cuda_row_spec.h"
#include "worker/engine/quant/fake_quant.h"
#include "worker/engine/quant/quant_test_util.h"

namespace quantd::engine::quant {
namespace {

using testing::Values;

std::vector<QuantConfig> AllRules() {
  std::vector<QuantConfig> configs;
  for (int bits : {2, 4, 8}) {
    for (bool symmetric : {false, true}) {
      for (Grid grid : {Grid::kOsPlusNarrow, Grid::kOsFull}) {
        for (bool include_zero : {true, false}) {
          QuantConfig config;
          config.bits = bits;
          config.symmetric = symmetric;
          config.grid = grid;
          config.include_zero = include_zero;
          config.granularity = Granularity::kPerToken;
          config.dynamic = true;
          configs.push_back(config);
        }
      }
    }
  }
  return configs;
}

// Ranges of every kind: random, one-sided, zero, tiny, huge.
MinMaxRange Ranges() {
  at::manual_seed(21);
  const at::Tensor a = at::randn({2000}) * 3.0;
  const at::Tensor b = at::randn({2000}) * 3.0;
  const std::vector<float> min_extra = {0, 1, -4, -1e-9f, -1, -1e5f, 0, -2};
  const std::vector<float> max_extra = {0, 3, -2, 1e-9f, 2, 1e5f, 5, -2};
  return {at::cat({at::minimum(a, b), at::tensor(min_extra)}),
          at::cat({at::maximum(a, b), at::tensor(max_extra)})};
}

// Token rows with exact ties for the Δ = 1 grids plus random rows.
at::Tensor Tokens(const QuantConfig& config) {
  at::manual_seed(22);
  at::Tensor x = at::randn({32, 64}) * 2.0;
  const float qmax = static_cast<float>(GridOf(config).qmax);
  for (int64_t j = 0; j < 64; ++j) {
    x[0][j] = static_cast<float>(j % 16) + 0.5f;
    x[1][j] = (j % 2 == 0 ? -1.0f : 1.0f) * (static_cast<float>(j % 8) + 0.5f);
  }
  x[0][0] = 0.0f;
  x[0][1] = qmax;
  x[1][0] = -qmax;
  x[1][1] = qmax;
  return x;
}

TEST(FusedMathTest, RowQParamsMatchComputeQParams) {
  const MinMaxRange ranges = Ranges();
  const std::vector<float> mins = Values(ranges.min);
  const std::vector<float> maxs = Values(ranges.max);
  for (const QuantConfig& config : AllRules()) {
    const QParams expected = ComputeQParams(ranges, config);
    const std::vector<float> scales = Values(expected.scale);
    const std::vector<float> zero_points = Values(expected.zero_point);
    const cuda::RowQParamsSpec spec = internal::RowSpecOf(RuleOf(config));
    for (size_t i = 0; i < mins.size(); ++i) {
      const cuda::RowQParams got =
          cuda::ComputeRowQParams(mins[i], maxs[i], spec);
      ASSERT_EQ(std::bit_cast<uint32_t>(got.scale),
                std::bit_cast<uint32_t>(scales[i]))
          << DescribeQuantConfig(config) << " row " << i;
      ASSERT_EQ(std::bit_cast<uint32_t>(got.zero_point),
                std::bit_cast<uint32_t>(zero_points[i]))
          << DescribeQuantConfig(config) << " row " << i;
    }
  }
}

// Per token and per tensor: the CPU path divides by a [R, 1] column or by
// a broadcast single element, and both must round like the scalar code.
TEST(FusedMathTest, FakeQuantValueMatchesFakeQuantize) {
  for (QuantConfig config : AllRules()) {
    for (Granularity granularity :
         {Granularity::kPerToken, Granularity::kPerTensor}) {
      config.granularity = granularity;
      const at::Tensor x = Tokens(config);
      const QParams q = DynamicQParams(x, config);
      const std::vector<float> expected =
          Values(FakeQuantize(x, q, granularity, 0));
      const std::vector<float> values = Values(x);
      const std::vector<float> scales = Values(q.scale);
      const std::vector<float> zero_points = Values(q.zero_point);
      for (size_t i = 0; i < values.size(); ++i) {
        const size_t row = scales.size() == 1 ? 0 : i / 64;
        const float got = cuda::FakeQuantValue(
            values[i], scales[row], zero_points[row],
            static_cast<float>(q.qmin), static_cast<float>(q.qmax));
        ASSERT_EQ(std::bit_cast<uint32_t>(got),
                  std::bit_cast<uint32_t>(expected[i]))
            << DescribeQuantConfig(config) << " element " << i;
      }
    }
  }
}

}  // namespace
}  // namespace quantd::engine::quant
