// CUDA vs CPU bit-exactness of fake quantization (ctest label gpu). The
// CUDA side runs the fused kernels of worker/engine/cuda through
// fused_kernels.h. Skips only when no CUDA device is present.
#include <gtest/gtest.h>

#include <vector>

#include "worker/engine/quant/fake_quant.h"
#include "worker/engine/quant/fused_kernels.h"
#include "worker/engine/quant/granularity.h"
#include "worker/engine/quant/integer_codes.h"
#include "worker/engine/quant/quant_test_util.h"

namespace quantd::engine::quant {
namespace {

using testing::BitEqual;

class FakeQuantGpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
    ASSERT_TRUE(internal::FusedKernelsAvailable())
        << "a CUDA device is present but this build has no fused kernels";
  }
};

std::vector<QuantConfig> Configs() {
  std::vector<QuantConfig> configs;
  for (Granularity granularity :
       {Granularity::kPerTensor, Granularity::kPerChannel,
        Granularity::kPerToken, Granularity::kPerGroup}) {
    for (int variant = 0; variant < 5; ++variant) {
      QuantConfig config;
      config.bits = variant == 0 ? 8 : (variant == 1 ? 4 : 3);
      config.symmetric = variant == 1 || variant == 2 || variant == 4;
      config.grid = variant == 2 ? Grid::kOsFull : Grid::kOsPlusNarrow;
      config.include_zero = variant < 3;
      config.granularity = granularity;
      config.group_size = granularity == Granularity::kPerGroup ? 32 : 0;
      config.dynamic = true;
      configs.push_back(config);
    }
  }
  return configs;
}

// [4, 48, 96] activations with ties on the Δ = 1 grids and an outlier row.
at::Tensor Input() {
  at::manual_seed(31);
  at::Tensor x = at::randn({4, 48, 96}) * 1.5;
  x[0][0] = at::arange(96, at::kFloat).remainder(16) + 0.5;
  x[1][3][5] = 40.0f;
  return x;
}

TEST_F(FakeQuantGpuTest, DynamicMatchesCpuBitForBit) {
  const at::Tensor x = Input();
  for (const QuantConfig& config : Configs()) {
    for (at::ScalarType dtype : {at::kFloat, at::kHalf, at::kBFloat16}) {
      const at::Tensor cpu = FakeQuantizeDynamic(x.to(dtype), config);
      const at::Tensor gpu = FakeQuantizeDynamic(x.to(dtype).cuda(), config);
      EXPECT_TRUE(gpu.is_cuda());
      EXPECT_TRUE(BitEqual(cpu, gpu))
          << DescribeQuantConfig(config) << " " << dtype;
    }
  }
}

TEST_F(FakeQuantGpuTest, StaticMatchesCpuBitForBit) {
  const at::Tensor x = Input();
  for (const QuantConfig& config : Configs()) {
    const QParams q = DynamicQParams(x, config);
    const QParams q_gpu =
        DynamicQParams(x.cuda(), config);  // Same parameters on the device.
    EXPECT_TRUE(BitEqual(q.scale, q_gpu.scale)) << DescribeQuantConfig(config);
    EXPECT_TRUE(BitEqual(q.zero_point, q_gpu.zero_point));
    for (at::ScalarType dtype : {at::kFloat, at::kHalf, at::kBFloat16}) {
      const at::Tensor cpu =
          FakeQuantize(x.to(dtype), q, config.granularity, config.group_size);
      const at::Tensor gpu = FakeQuantize(
          x.to(dtype).cuda(), q_gpu, config.granularity, config.group_size);
      EXPECT_TRUE(BitEqual(cpu, gpu))
          << DescribeQuantConfig(config) << " " << dtype;
    }
    EXPECT_TRUE(BitEqual(
        QuantizeToInt(x, q, config.granularity, config.group_size).codes,
        QuantizeToInt(x.cuda(), q_gpu, config.granularity, config.group_size)
            .codes));
  }
}

TEST_F(FakeQuantGpuTest, FusedDynamicParametersMatchCpu) {
  const at::Tensor x = Input();
  for (const QuantConfig& config : Configs()) {
    if (config.granularity == Granularity::kPerTensor) continue;
    const at::Tensor rows =
        RowView(x.cuda(), config.granularity, config.group_size);
    const auto fused =
        internal::TryFusedDynamicFakeQuantizeRows(rows, RuleOf(config));
    ASSERT_TRUE(fused.has_value());
    const QParams q = DynamicQParams(x, config);
    EXPECT_TRUE(BitEqual(fused->qparams.scale, q.scale))
        << DescribeQuantConfig(config);
    EXPECT_TRUE(BitEqual(fused->qparams.zero_point, q.zero_point))
        << DescribeQuantConfig(config);
  }
}

}  // namespace
}  // namespace quantd::engine::quant
