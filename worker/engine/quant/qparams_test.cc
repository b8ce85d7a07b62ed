#include "worker/engine/quant/qparams.h"

#include <gtest/gtest.h>

#include "worker/engine/quant/errors.h"
#include "worker/engine/quant/quant_test_util.h"

namespace quantd::engine::quant {
namespace {

using testing::Floats;
using testing::Values;

QParams Compute(float min, float max, const QuantConfig& config) {
  return ComputeQParams({at::scalar_tensor(min), at::scalar_tensor(max)},
                        config);
}

QuantConfig Config(int bits, bool symmetric, Grid grid = Grid::kOsPlusNarrow,
                   bool include_zero = true) {
  QuantConfig config;
  config.bits = bits;
  config.symmetric = symmetric;
  config.grid = grid;
  config.include_zero = include_zero;
  return config;
}

TEST(QParamsTest, AsymmetricEightBit) {
  // x in [-1, 2]: Δ = 3/255, zp = 0 - round(-1 / Δ) = 85.
  const QParams q = Compute(-1.0f, 2.0f, Config(8, false));
  EXPECT_FLOAT_EQ(q.scale.item<float>(), 3.0f / 255.0f);
  EXPECT_EQ(q.zero_point.item<float>(), 85.0f);
  EXPECT_EQ(q.qmin, 0);
  EXPECT_EQ(q.qmax, 255);
  EXPECT_EQ(q.scale.dim(), 0);
}

TEST(QParamsTest, SymmetricNarrowGrid) {
  // OS+: Δ = absmax / 127 on [-127, 127].
  const QParams q = Compute(-1.0f, 2.0f, Config(8, true));
  EXPECT_FLOAT_EQ(q.scale.item<float>(), 2.0f / 127.0f);
  EXPECT_EQ(q.zero_point.item<float>(), 0.0f);
  EXPECT_EQ(q.qmin, -127);
  EXPECT_EQ(q.qmax, 127);
  // 4-bit: Δ = absmax / 7.
  EXPECT_FLOAT_EQ(Compute(-3.5f, 1.0f, Config(4, true)).scale.item<float>(),
                  0.5f);
}

TEST(QParamsTest, SymmetricFullGrid) {
  // OS: Δ = absmax / 127.5 on [-128, 127].
  const QParams q = Compute(-1.0f, 2.0f, Config(8, true, Grid::kOsFull));
  EXPECT_FLOAT_EQ(q.scale.item<float>(), 2.0f / 127.5f);
  EXPECT_EQ(q.qmin, -128);
  EXPECT_EQ(q.qmax, 127);
  // 4-bit: Δ = absmax / 7.5.
  EXPECT_FLOAT_EQ(
      Compute(-3.75f, 1.0f, Config(4, true, Grid::kOsFull)).scale.item<float>(),
      0.5f);
}

TEST(QParamsTest, RangeIsWidenedToIncludeZero) {
  // Positive only: [1, 3] becomes [0, 3], so Δ = 3/255 and zp = 0.
  const QParams positive = Compute(1.0f, 3.0f, Config(8, false));
  EXPECT_FLOAT_EQ(positive.scale.item<float>(), 3.0f / 255.0f);
  EXPECT_EQ(positive.zero_point.item<float>(), 0.0f);
  // Negative only: [-4, -2] becomes [-4, 0], zp = round(4 / Δ) = 255.
  const QParams negative = Compute(-4.0f, -2.0f, Config(8, false));
  EXPECT_FLOAT_EQ(negative.scale.item<float>(), 4.0f / 255.0f);
  EXPECT_EQ(negative.zero_point.item<float>(), 255.0f);
  // Symmetric: absmax of the widened range.
  EXPECT_FLOAT_EQ(Compute(1.0f, 3.5f, Config(4, true)).scale.item<float>(),
                  0.5f);
}

TEST(QParamsTest, EpsBoundsTheScaleOfAZeroRange) {
  EXPECT_EQ(Compute(0.0f, 0.0f, Config(8, false)).scale.item<float>(),
            kOsPlusEps);
  EXPECT_EQ(Compute(0.0f, 0.0f, Config(8, true)).scale.item<float>(),
            kOsPlusEps);
  EXPECT_EQ(
      Compute(0.0f, 0.0f, Config(8, true, Grid::kOsFull)).scale.item<float>(),
      kOsEps);
  EXPECT_EQ(
      Compute(0.0f, 0.0f, Config(8, false, Grid::kOsFull)).scale.item<float>(),
      kOsEps);
}

TEST(QParamsTest, OmniQuantAsymmetricDoesNotIncludeZero) {
  // [2, 4]: Δ = 2/255 and zp = round(-2 / Δ) = -255, outside the grid.
  const QParams q = Compute(2.0f, 4.0f, Config(8, false, {}, false));
  EXPECT_FLOAT_EQ(q.scale.item<float>(), 2.0f / 255.0f);
  EXPECT_EQ(q.zero_point.item<float>(), -255.0f);
  EXPECT_EQ(q.qmin, 0);
  EXPECT_EQ(q.qmax, 255);
  // A zero range is clamped to Δ = 1e-5.
  EXPECT_EQ(
      Compute(0.0f, 0.0f, Config(8, false, {}, false)).scale.item<float>(),
      kOmniScaleMin);
  // -min / Δ is clamped to ±1e4 before rounding.
  EXPECT_EQ(Compute(-1.0f, -1.0f, Config(8, false, {}, false))
                .zero_point.item<float>(),
            1e4f);
}

TEST(QParamsTest, OmniQuantSymmetricUsesOffsetGrid) {
  // 4-bit: L = 7, Δ = absmax / 7, zp = 7 on [0, 15].
  const QParams q = Compute(-3.5f, 1.0f, Config(4, true, {}, false));
  EXPECT_FLOAT_EQ(q.scale.item<float>(), 0.5f);
  EXPECT_EQ(q.zero_point.item<float>(), 7.0f);
  EXPECT_EQ(q.qmin, 0);
  EXPECT_EQ(q.qmax, 15);
}

TEST(QParamsTest, PerRowRanges) {
  const QParams q = ComputeQParams(
      {Floats({-1.0f, 0.0f, -4.0f}), Floats({2.0f, 15.0f, 3.5f})},
      Config(4, false));
  // Rows: Δ = 3/15, 15/15, 7.5/15.
  const std::vector<float> scale = Values(q.scale);
  EXPECT_FLOAT_EQ(scale[0], 0.2f);
  EXPECT_FLOAT_EQ(scale[1], 1.0f);
  EXPECT_FLOAT_EQ(scale[2], 0.5f);
  EXPECT_EQ(Values(q.zero_point), (std::vector<float>{5.0f, 0.0f, 8.0f}));
}

TEST(QParamsTest, RuleOfPicksModeGridAndEps) {
  const QParamsRule narrow = RuleOf(Config(8, true));
  EXPECT_EQ(narrow.mode, RangeMode::kSymmetric);
  EXPECT_EQ(narrow.eps, kOsPlusEps);
  const QParamsRule full = RuleOf(Config(8, true, Grid::kOsFull));
  EXPECT_EQ(full.eps, kOsEps);
  EXPECT_EQ(full.qmin, -128);
  EXPECT_EQ(RuleOf(Config(8, false)).mode, RangeMode::kAsymmetric);
  EXPECT_EQ(RuleOf(Config(8, false, {}, false)).mode,
            RangeMode::kOmniAsymmetric);
  EXPECT_EQ(RuleOf(Config(8, true, {}, false)).mode, RangeMode::kOmniSymmetric);
}

TEST(QParamsTest, RejectsMismatchedShapes) {
  EXPECT_THROW(
      ComputeQParams({Floats({0.0f, 1.0f}), Floats({1.0f})}, Config(8, false)),
      QuantError);
  EXPECT_THROW(ComputeQParams({at::Tensor(), Floats({1.0f})}, Config(8, false)),
               QuantError);
}

}  // namespace
}  // namespace quantd::engine::quant
