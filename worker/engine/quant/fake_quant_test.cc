#include "worker/engine/quant/fake_quant.h"

#include <gtest/gtest.h>

#include <limits>
#include <optional>
#include <vector>

#include "worker/engine/quant/cpu_fake_quant.h"
#include "worker/engine/quant/errors.h"
#include "worker/engine/quant/granularity.h"
#include "worker/engine/quant/quant_test_util.h"

namespace quantd::engine::quant {
namespace {

using testing::BitEqual;
using testing::Floats;
using testing::Values;

QuantConfig Dynamic(int bits, bool symmetric, Granularity granularity,
                    int64_t group_size = 0) {
  QuantConfig config;
  config.bits = bits;
  config.symmetric = symmetric;
  config.granularity = granularity;
  config.group_size = group_size;
  config.dynamic = true;
  return config;
}

TEST(FakeQuantTest, AsymmetricEightBitByHand) {
  // Δ = 3/255, zp = 85. -1 → code 0; 0.5/Δ = 42.5 exactly → 42 (half to
  // even) → code 127 → 42Δ; 2 → code 255.
  const at::Tensor x = Floats({-1.0f, 0.5f, 2.0f});
  const std::vector<float> y = Values(
      FakeQuantizeDynamic(x, Dynamic(8, false, Granularity::kPerTensor)));
  const float delta = 3.0f / 255.0f;
  EXPECT_FLOAT_EQ(y[0], -85.0f * delta);
  EXPECT_FLOAT_EQ(y[1], 42.0f * delta);
  EXPECT_FLOAT_EQ(y[2], 170.0f * delta);
}

TEST(FakeQuantTest, RoundsHalfToEven) {
  const at::Tensor x =
      Floats({0.5f, 1.5f, 2.5f, 3.5f, -0.5f, -1.5f, -2.5f, -3.5f});
  const at::Tensor y =
      FakeQuantize(x, at::tensor(1.0f), at::tensor(0.0f), -127, 127);
  EXPECT_EQ(Values(y), (std::vector<float>{0.0f, 2.0f, 2.0f, 4.0f, -0.0f, -2.0f,
                                           -2.0f, -4.0f}));
}

TEST(FakeQuantTest, ClampsToTheGrid) {
  // Grid [0, 15], Δ = 1, zp = 3: representable values are [-3, 12].
  const at::Tensor x = Floats({-10.0f, -3.0f, 12.0f, 20.0f});
  const at::Tensor y =
      FakeQuantize(x, at::tensor(1.0f), at::tensor(3.0f), 0, 15);
  EXPECT_EQ(Values(y), (std::vector<float>{-3.0f, -3.0f, 12.0f, 12.0f}));
}

TEST(FakeQuantTest, PerChannelSymmetric) {
  // 4-bit narrow grid ±7: row 0 absmax 7 → Δ = 1; row 1 absmax 3.5 → Δ = 0.5.
  const at::Tensor w = Floats({7.0f, -3.2f, 1.5f, 3.5f, 0.3f, -1.25f}, {2, 3});
  QuantConfig config = Dynamic(4, true, Granularity::kPerChannel);
  const at::Tensor y = FakeQuantizeDynamic(w, config);
  EXPECT_EQ(Values(y),
            (std::vector<float>{7.0f, -3.0f, 2.0f, 3.5f, 0.5f, -1.0f}));
  EXPECT_TRUE(y.sizes().equals(w.sizes()));
}

TEST(FakeQuantTest, PerTokenAsymmetricWithZeroInclusion) {
  // [batch 2, tokens 2, channels 4], 4-bit asymmetric, one pair per token.
  const at::Tensor x = Floats({0.0f, 15.0f, 3.4f, 7.5f,     // Δ 1, zp 0
                               -15.0f, -1.0f, -2.5f, 0.0f,  // Δ 1, zp 15
                               -4.0f, 3.5f, 1.25f, 0.3f,    // Δ .5, zp 8
                               1.0f, 2.0f, 3.0f, 3.75f},    // [0, 3.75]
                              {2, 2, 4});
  const at::Tensor y =
      FakeQuantizeDynamic(x, Dynamic(4, false, Granularity::kPerToken));
  EXPECT_EQ(Values(y), (std::vector<float>{0.0f, 15.0f, 3.0f, 8.0f,     //
                                           -15.0f, -1.0f, -2.0f, 0.0f,  //
                                           -4.0f, 3.5f, 1.0f, 0.5f,     //
                                           1.0f, 2.0f, 3.0f, 3.75f}));
  const QParams q =
      DynamicQParams(x, Dynamic(4, false, Granularity::kPerToken));
  EXPECT_EQ(Values(q.scale), (std::vector<float>{1.0f, 1.0f, 0.5f, 0.25f}));
  EXPECT_EQ(Values(q.zero_point),
            (std::vector<float>{0.0f, 15.0f, 8.0f, 0.0f}));
}

TEST(FakeQuantTest, PerGroupUsesContiguousGroupsOfTheLastDim) {
  // [2, 8] with G = 4: groups are (row 0, cols 0-3), (row 0, cols 4-7),
  // (row 1, cols 0-3), (row 1, cols 4-7); absmax 7, 3.5, 14, 1.75 give
  // Δ = 1, 0.5, 2, 0.25 on the ±7 grid.
  const at::Tensor x = Floats({7.0f, 1.4f, -2.5f, 0.0f,      //
                               3.5f, 0.3f, -1.25f, 0.75f,    //
                               14.0f, 3.0f, -5.0f, 1.0f,     //
                               1.75f, 0.1f, -0.375f, 0.6f},  //
                              {2, 8});
  QuantConfig config = Dynamic(4, true, Granularity::kPerGroup, 4);
  const at::Tensor y = FakeQuantizeDynamic(x, config);
  EXPECT_EQ(Values(y), (std::vector<float>{7.0f, 1.0f, -2.0f, 0.0f,   //
                                           3.5f, 0.5f, -1.0f, 1.0f,   //
                                           14.0f, 4.0f, -4.0f, 0.0f,  //
                                           1.75f, 0.0f, -0.5f, 0.5f}));
  // Same as quantizing each group on its own.
  const at::Tensor groups = x.reshape({4, 4});
  for (int64_t g = 0; g < 4; ++g) {
    const at::Tensor alone = FakeQuantizeDynamic(
        groups[g], Dynamic(4, true, Granularity::kPerTensor));
    EXPECT_TRUE(BitEqual(alone, y.reshape({4, 4})[g])) << "group " << g;
  }
}

TEST(FakeQuantTest, PerGroupRejectsGroupsThatStraddleRows) {
  const at::Tensor x = at::zeros({2, 6});
  EXPECT_THROW(
      FakeQuantizeDynamic(x, Dynamic(4, true, Granularity::kPerGroup, 4)),
      QuantError);
}

TEST(FakeQuantTest, StaticParamsMatchDynamicOnTheSameRange) {
  at::manual_seed(1);
  const at::Tensor x = at::randn({3, 5, 16});
  for (Granularity g : {Granularity::kPerTensor, Granularity::kPerChannel,
                        Granularity::kPerToken, Granularity::kPerGroup}) {
    const QuantConfig config =
        Dynamic(6, false, g, g == Granularity::kPerGroup ? 8 : 0);
    const QParams q = DynamicQParams(x, config);
    EXPECT_TRUE(BitEqual(FakeQuantize(x, q, g, config.group_size),
                         FakeQuantizeDynamic(x, config)))
        << GranularityName(g);
  }
}

TEST(FakeQuantTest, ReducedPrecisionInputsComputeInFloat32) {
  at::manual_seed(2);
  const at::Tensor x = at::randn({4, 32}).to(at::kHalf);
  const QuantConfig config = Dynamic(4, false, Granularity::kPerToken);
  const at::Tensor y = FakeQuantizeDynamic(x, config);
  EXPECT_EQ(y.scalar_type(), at::kHalf);
  EXPECT_TRUE(
      BitEqual(y, FakeQuantizeDynamic(x.to(at::kFloat), config).to(at::kHalf)));
}

TEST(FakeQuantTest, DisabledConfigIsIdentity) {
  const at::Tensor x = at::randn({2, 3});
  QuantConfig config;
  config.enabled = false;
  EXPECT_TRUE(FakeQuantizeDynamic(x, config).is_same(x));
}

TEST(FakeQuantTest, OmniQuantAsymmetricKeepsTheRawRange) {
  // [1, 3.75] not widened: 4-bit Δ = 2.75/15, zp = round(-1/Δ) = -5.
  QuantConfig config = Dynamic(4, false, Granularity::kPerTensor);
  config.include_zero = false;
  const at::Tensor x = Floats({1.0f, 2.0f, 3.0f, 3.75f});
  const QParams q = DynamicQParams(x, config);
  EXPECT_FLOAT_EQ(q.scale.item<float>(), 2.75f / 15.0f);
  EXPECT_EQ(q.zero_point.item<float>(), -5.0f);
  const std::vector<float> y = Values(FakeQuantizeDynamic(x, config));
  EXPECT_FLOAT_EQ(y[0], 5.0f * 2.75f / 15.0f);
  EXPECT_FLOAT_EQ(y[3], 20.0f * 2.75f / 15.0f);
}

TEST(FakeQuantTest, SteForwardIsBitExactAndGradientPassesThrough) {
  at::manual_seed(7);
  at::Tensor x = at::randn({64}) * 3.0;
  x.set_requires_grad(true);
  at::Tensor scale = at::tensor(0.25f);
  scale.set_requires_grad(true);
  const at::Tensor zero_point = at::tensor(3.0f);
  const at::Tensor y = FakeQuantizeSte(x, scale, zero_point, 0, 15);
  EXPECT_TRUE(BitEqual(
      y.detach(), FakeQuantize(x.detach(), scale.detach(), zero_point, 0, 15)));
  y.sum().backward();
  // Inside the grid the gradient is 1; where clamped it is 0.
  const at::Tensor code = at::round(x.detach() / 0.25) + 3.0;
  const at::Tensor inside = at::logical_and(code >= 0, code <= 15);
  EXPECT_TRUE(at::equal(x.grad(), inside.to(at::kFloat)));
  ASSERT_TRUE(scale.grad().defined());
  EXPECT_TRUE(at::isfinite(scale.grad()).item<bool>());
}

// The one-pass CPU loop equals the LibTorch ops it replaces bit for bit:
// per tensor, per row and per leading index of a 3-d stack (OS+'s stacked
// candidates), with ties at .5, values beyond the grid, signed zeros and
// NaN; other shapes and dtypes decline.
TEST(FakeQuantTest, OnePassCpuLoopIsBitIdenticalToTheTensorOps) {
  at::Generator generator = at::detail::createCPUGenerator(17);
  auto reference = [](const at::Tensor& x, const at::Tensor& s,
                      const at::Tensor& z, int64_t qmin, int64_t qmax) {
    const at::Tensor code =
        at::clamp(at::round(x / s) + z, static_cast<double>(qmin),
                  static_cast<double>(qmax));
    return (code - z) * s;
  };
  at::Tensor x = at::randn({6, 5, 70001}, generator) * 40.0;
  at::Tensor flat = x.view({-1});
  // Exact ties (k + 0.5) · Δ for Δ = 0.25, signed zeros and a NaN.
  for (int64_t i = 0; i < 64; ++i) flat[i] = (i - 32 + 0.5) * 0.25;
  flat[64] = -0.0;
  flat[65] = 0.0;
  flat[66] = std::numeric_limits<float>::quiet_NaN();
  struct Case {
    at::Tensor x, scale, zero_point;
    int64_t qmin, qmax;
  };
  const std::vector<Case> cases = {
      {x, at::full({1}, 0.25), at::zeros({1}), -127, 127},
      {x.view({30, -1}), at::rand({30, 1}, generator) + 0.01,
       at::randint(0, 16, {30, 1}, generator).to(at::kFloat), 0, 15},
      {x, at::rand({6, 1, 1}, generator) + 0.01, at::zeros({6, 1, 1}), -7, 7},
  };
  for (const Case& c : cases) {
    std::optional<at::Tensor> fused =
        internal::CpuFakeQuantize(c.x, c.scale, c.zero_point, c.qmin, c.qmax);
    ASSERT_TRUE(fused.has_value());
    EXPECT_TRUE(BitEqual(
        *fused, reference(c.x, c.scale, c.zero_point, c.qmin, c.qmax)));
  }
  // Per-column parameters, float64 and strided inputs are not its case.
  EXPECT_FALSE(internal::CpuFakeQuantize(x.view({30, -1}).narrow(1, 0, 5),
                                         at::ones({1}), at::zeros({1}), 0, 15)
                   .has_value());
  EXPECT_FALSE(internal::CpuFakeQuantize(at::ones({4, 3}), at::ones({1, 3}),
                                         at::zeros({1, 3}), 0, 15)
                   .has_value());
  EXPECT_FALSE(internal::CpuFakeQuantize(at::ones({4, 3}, at::kDouble),
                                         at::ones({1}), at::zeros({1}), 0, 15)
                   .has_value());
}

TEST(FakeQuantTest, RejectsBadInputs) {
  EXPECT_THROW(FakeQuantize(at::ones({3}, at::kInt), at::tensor(1.0f),
                            at::tensor(0.0f), 0, 255),
               QuantError);
  EXPECT_THROW(
      FakeQuantize(at::ones({3}), at::tensor(1.0f), at::tensor(0.0f), 5, 4),
      QuantError);
  const QParams two_rows{Floats({1.0f, 1.0f}), Floats({0.0f, 0.0f}), 0, 255};
  EXPECT_THROW(
      FakeQuantize(at::ones({3, 4}), two_rows, Granularity::kPerChannel, 0),
      QuantError);
  EXPECT_THROW(
      FakeQuantize(at::ones({2, 4}), two_rows, Granularity::kPerTensor, 0),
      QuantError);
}

}  // namespace
}  // namespace quantd::engine::quant
