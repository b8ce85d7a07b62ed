#include "worker/engine/quant/integer_codes.h"

#include <gtest/gtest.h>

#include <vector>

#include "worker/engine/quant/errors.h"
#include "worker/engine/quant/fake_quant.h"
#include "worker/engine/quant/quant_test_util.h"

namespace quantd::engine::quant {
namespace {

using testing::BitEqual;
using testing::Floats;
using testing::Values;

QuantConfig Config(int bits, bool symmetric, Granularity granularity,
                   int64_t group_size = 0) {
  QuantConfig config;
  config.bits = bits;
  config.symmetric = symmetric;
  config.granularity = granularity;
  config.group_size = group_size;
  config.dynamic = true;
  return config;
}

TEST(IntegerCodesTest, AsymmetricCodesByHand) {
  const at::Tensor x = Floats({-1.0f, 0.5f, 2.0f});
  const QuantConfig config = Config(8, false, Granularity::kPerTensor);
  const IntegerCodes codes =
      QuantizeToInt(x, DynamicQParams(x, config), Granularity::kPerTensor, 0);
  EXPECT_EQ(codes.codes.scalar_type(), at::kByte);
  EXPECT_EQ(Values(codes.codes), (std::vector<float>{0.0f, 127.0f, 255.0f}));
  EXPECT_EQ(codes.qparams.zero_point.item<float>(), 85.0f);
}

TEST(IntegerCodesTest, SymmetricCodesAreSigned) {
  const at::Tensor x = Floats({-7.0f, 3.5f, -2.5f});
  QuantConfig config = Config(4, true, Granularity::kPerTensor);
  const IntegerCodes narrow =
      QuantizeToInt(x, DynamicQParams(x, config), Granularity::kPerTensor, 0);
  EXPECT_EQ(narrow.codes.scalar_type(), at::kChar);
  EXPECT_EQ(Values(narrow.codes), (std::vector<float>{-7.0f, 4.0f, -2.0f}));
  // OS full grid: Δ = 7 / 7.5, so -7 maps to -7.5 → -8 (half to even).
  config.grid = Grid::kOsFull;
  const IntegerCodes full =
      QuantizeToInt(x, DynamicQParams(x, config), Granularity::kPerTensor, 0);
  EXPECT_EQ(Values(full.codes)[0], -8.0f);
}

TEST(IntegerCodesTest, DequantizeEqualsFakeQuantizeBitForBit) {
  at::manual_seed(3);
  const at::Tensor x = at::randn({4, 6, 32}) * 2.0 + 0.3;
  std::vector<QuantConfig> configs = {
      Config(8, false, Granularity::kPerTensor),
      Config(4, true, Granularity::kPerChannel),
      Config(3, false, Granularity::kPerToken),
      Config(2, false, Granularity::kPerGroup, 8),
  };
  QuantConfig full = Config(6, true, Granularity::kPerToken);
  full.grid = Grid::kOsFull;
  configs.push_back(full);
  QuantConfig omni = Config(4, false, Granularity::kPerGroup, 16);
  omni.include_zero = false;
  configs.push_back(omni);
  QuantConfig omni_sym = Config(4, true, Granularity::kPerChannel);
  omni_sym.include_zero = false;
  configs.push_back(omni_sym);
  for (const QuantConfig& config : configs) {
    const QParams q = DynamicQParams(x, config);
    const IntegerCodes codes =
        QuantizeToInt(x, q, config.granularity, config.group_size);
    EXPECT_TRUE(codes.codes.sizes().equals(x.sizes()));
    EXPECT_TRUE(
        BitEqual(Dequantize(codes),
                 FakeQuantize(x, q, config.granularity, config.group_size)))
        << DescribeQuantConfig(config);
    EXPECT_TRUE(
        BitEqual(Dequantize(codes, at::kHalf),
                 FakeQuantize(x, q, config.granularity, config.group_size)
                     .to(at::kHalf)))
        << DescribeQuantConfig(config);
  }
}

TEST(IntegerCodesTest, CodeDtypeRejectsWideGrids) {
  EXPECT_EQ(CodeDtype(0, 255), at::kByte);
  EXPECT_EQ(CodeDtype(-128, 127), at::kChar);
  EXPECT_THROW(CodeDtype(0, 65535), QuantError);
  EXPECT_THROW(CodeDtype(-129, 127), QuantError);
}

}  // namespace
}  // namespace quantd::engine::quant
