#include "worker/engine/quant/quantizer.h"

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

QuantConfig Static(int bits, Granularity granularity = Granularity::kPerTensor,
                   ObserverKind observer = ObserverKind::kMinMax) {
  QuantConfig config;
  config.bits = bits;
  config.granularity = granularity;
  config.observer = observer;
  return config;
}

TEST(QuantizerTest, StaticNeedsCalibrationBeforeApply) {
  Quantizer quantizer(Static(8));
  EXPECT_TRUE(quantizer.is_static());
  EXPECT_FALSE(quantizer.has_qparams());
  EXPECT_THROW(quantizer.Apply(Floats({1.0f})), QuantError);
  EXPECT_THROW(quantizer.Freeze(), QuantError);
}

TEST(QuantizerTest, ObserveRecomputesAndApplyUsesTheLatestRange) {
  Quantizer quantizer(Static(4));
  // OS+ MinMax overwrites: after the second batch the range is [0, 15].
  quantizer.Observe(Floats({-1.0f, 2.0f}));
  quantizer.Observe(Floats({0.0f, 15.0f}));
  EXPECT_EQ(quantizer.qparams().scale.item<float>(), 1.0f);
  EXPECT_EQ(quantizer.qparams().zero_point.item<float>(), 0.0f);
  EXPECT_EQ(Values(quantizer.Apply(Floats({2.5f, 3.5f, 20.0f, -1.0f}))),
            (std::vector<float>{2.0f, 4.0f, 15.0f, 0.0f}));
}

TEST(QuantizerTest, FrozenQuantizerRejectsObservation) {
  Quantizer quantizer(
      Static(8, Granularity::kPerTensor, ObserverKind::kAvgMinMax));
  const at::Tensor a = Floats({-1.0f, 1.0f});
  quantizer.Observe(a);
  quantizer.Observe(Floats({-3.0f, 3.0f}));
  quantizer.Freeze();
  EXPECT_TRUE(quantizer.frozen());
  EXPECT_THROW(quantizer.Observe(a), QuantError);
  EXPECT_EQ(quantizer.ObservedRange().max.item<float>(), 2.0f);
  const QParams q = quantizer.qparams();
  EXPECT_TRUE(BitEqual(quantizer.Apply(a),
                       FakeQuantize(a, q, Granularity::kPerTensor, 0)));
}

TEST(QuantizerTest, ObserveAndApplyIsOneCalibrationForward) {
  Quantizer quantizer(Static(4));
  const at::Tensor x = Floats({0.0f, 15.0f, 7.5f});
  EXPECT_EQ(Values(quantizer.ObserveAndApply(x)),
            (std::vector<float>{0.0f, 15.0f, 8.0f}));
}

TEST(QuantizerTest, SetRangeInstallsParametersAndFreezes) {
  QuantConfig config = Static(8);
  config.symmetric = true;
  Quantizer quantizer(config);
  quantizer.SetRange({at::tensor(-2.54f), at::tensor(2.54f)});
  EXPECT_TRUE(quantizer.frozen());
  EXPECT_FLOAT_EQ(quantizer.qparams().scale.item<float>(), 0.02f);
  EXPECT_THROW(quantizer.Observe(Floats({1.0f})), QuantError);
}

TEST(QuantizerTest, SetQParamsForFoldedScales) {
  Quantizer quantizer(Static(4, Granularity::kPerChannel));
  quantizer.SetQParams({Floats({1.0f, 0.5f}), Floats({0.0f, 8.0f}), 0, 15});
  EXPECT_EQ(Values(quantizer.Apply(Floats({3.0f, 3.0f}, {2, 1}))),
            (std::vector<float>{3.0f, 3.0f}));
  EXPECT_THROW(
      quantizer.SetQParams({Floats({1.0f, 0.5f}), Floats({0.0f}), 0, 15}),
      QuantError);
}

TEST(QuantizerTest, ResetReturnsToCalibration) {
  Quantizer quantizer(Static(8));
  quantizer.Observe(Floats({1.0f}));
  quantizer.Freeze();
  quantizer.Reset();
  EXPECT_FALSE(quantizer.frozen());
  EXPECT_FALSE(quantizer.has_qparams());
  quantizer.Observe(Floats({2.0f}));
  EXPECT_TRUE(quantizer.has_qparams());
}

TEST(QuantizerTest, DynamicIsStateless) {
  QuantConfig config;
  config.bits = 4;
  config.granularity = Granularity::kPerToken;
  config.dynamic = true;
  Quantizer quantizer(config);
  EXPECT_FALSE(quantizer.is_static());
  const at::Tensor x = at::randn({3, 8});
  quantizer.Observe(x);  // No effect.
  quantizer.Freeze();    // No effect.
  EXPECT_TRUE(BitEqual(quantizer.Apply(x), FakeQuantizeDynamic(x, config)));
  EXPECT_THROW(quantizer.SetRange({at::tensor(0.0f), at::tensor(1.0f)}),
               QuantError);
  EXPECT_THROW(quantizer.qparams(), QuantError);
}

TEST(QuantizerTest, DisabledIsIdentity) {
  QuantConfig config;
  config.enabled = false;
  Quantizer quantizer(config);
  const at::Tensor x = at::randn({4});
  quantizer.Observe(x);
  EXPECT_TRUE(quantizer.Apply(x).is_same(x));
  EXPECT_THROW(quantizer.Encode(x), QuantError);
}

TEST(QuantizerTest, EncodeMatchesApply) {
  at::manual_seed(4);
  const at::Tensor w = at::randn({6, 16});
  QuantConfig config = Static(3, Granularity::kPerGroup);
  config.group_size = 8;
  Quantizer quantizer(config);
  quantizer.Observe(w);
  quantizer.Freeze();
  const IntegerCodes codes = quantizer.Encode(w);
  EXPECT_EQ(codes.codes.scalar_type(), at::kByte);
  EXPECT_TRUE(BitEqual(Dequantize(codes), quantizer.Apply(w)));
}

TEST(QuantizerTest, InvalidConfigNamesTheField) {
  QuantConfig config = Static(12);
  try {
    Quantizer quantizer(config);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_EQ(error.field(), "bits");
  }
}

}  // namespace
}  // namespace quantd::engine::quant
