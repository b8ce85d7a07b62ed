#include "worker/engine/quant/scheme.h"

#include <gtest/gtest.h>

#include <string>

#include "worker/engine/quant/errors.h"

namespace quantd::engine::quant {
namespace {

// The ConfigError field for `text`, or "" when it parses.
std::string FailingField(const std::string& text) {
  try {
    ParseScheme(text);
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find(text), std::string::npos)
        << "message must quote the scheme: " << error.what();
    return error.field();
  }
  return "";
}

TEST(SchemeTest, W8A8IsSymmetricPerChannelAndPerToken) {
  const QuantScheme scheme = ParseScheme("w8a8");
  EXPECT_EQ(scheme.name, "w8a8");
  EXPECT_EQ(scheme.weight.bits, 8);
  EXPECT_TRUE(scheme.weight.symmetric);
  EXPECT_EQ(scheme.weight.grid, Grid::kOsPlusNarrow);
  EXPECT_EQ(scheme.weight.granularity, Granularity::kPerChannel);
  EXPECT_FALSE(scheme.weight.dynamic);
  EXPECT_EQ(scheme.weight.observer, ObserverKind::kMinMax);
  EXPECT_TRUE(scheme.activation.enabled);
  EXPECT_TRUE(scheme.activation.symmetric);
  EXPECT_EQ(scheme.activation.granularity, Granularity::kPerToken);
  EXPECT_TRUE(scheme.activation.dynamic);
}

TEST(SchemeTest, W8A8PerTensorIsInt8Star) {
  const QuantScheme scheme = ParseScheme("w8a8-pt");
  EXPECT_TRUE(scheme.per_tensor_activations);
  EXPECT_TRUE(scheme.weight.symmetric);
  EXPECT_EQ(scheme.weight.granularity, Granularity::kPerTensor);
  EXPECT_TRUE(scheme.activation.symmetric);
  EXPECT_EQ(scheme.activation.granularity, Granularity::kPerTensor);
  EXPECT_FALSE(scheme.activation.dynamic);
  EXPECT_EQ(scheme.activation.observer, ObserverKind::kAvgMinMax);
}

TEST(SchemeTest, LowBitWeightActivationIsAsymmetricPerToken) {
  for (const char* text : {"w6a6", "w4a4"}) {
    const QuantScheme scheme = ParseScheme(text);
    EXPECT_FALSE(scheme.weight.symmetric) << text;
    EXPECT_EQ(scheme.weight.granularity, Granularity::kPerChannel) << text;
    EXPECT_FALSE(scheme.activation.symmetric) << text;
    EXPECT_EQ(scheme.activation.granularity, Granularity::kPerToken) << text;
    EXPECT_TRUE(scheme.activation.dynamic) << text;
    EXPECT_EQ(scheme.activation.bits, scheme.weight.bits) << text;
  }
}

TEST(SchemeTest, W6A6PerTensorIsInt6Yaml) {
  const QuantScheme scheme = ParseScheme("w6a6-pt");
  EXPECT_EQ(scheme.weight.bits, 6);
  EXPECT_FALSE(scheme.weight.symmetric);
  EXPECT_EQ(scheme.weight.granularity, Granularity::kPerChannel);
  EXPECT_FALSE(scheme.activation.symmetric);
  EXPECT_EQ(scheme.activation.granularity, Granularity::kPerTensor);
  EXPECT_FALSE(scheme.activation.dynamic);
  EXPECT_EQ(scheme.activation.observer, ObserverKind::kAvgMinMax);
}

TEST(SchemeTest, WeightOnlySchemesDisableActivations) {
  for (const char* text : {"w4a16", "w3a16", "w2a16"}) {
    const QuantScheme scheme = ParseScheme(text);
    EXPECT_EQ(scheme.activation_bits, 16) << text;
    EXPECT_FALSE(scheme.activation.enabled) << text;
    EXPECT_FALSE(scheme.weight.symmetric) << text;
    EXPECT_EQ(scheme.weight.granularity, Granularity::kPerChannel) << text;
  }
  EXPECT_EQ(ParseScheme("w2a16").weight.bits, 2);
}

TEST(SchemeTest, GroupSuffixMakesWeightsAndActivationsPerGroup) {
  const QuantScheme weight_only = ParseScheme("W4A16-G128");
  EXPECT_EQ(weight_only.name, "w4a16-g128");
  EXPECT_EQ(weight_only.group_size, 128);
  EXPECT_EQ(weight_only.weight.granularity, Granularity::kPerGroup);
  EXPECT_EQ(weight_only.weight.group_size, 128);
  EXPECT_FALSE(weight_only.activation.enabled);

  const QuantScheme both = ParseScheme("w4a4-g1024");
  EXPECT_EQ(both.activation.granularity, Granularity::kPerGroup);
  EXPECT_EQ(both.activation.group_size, 1024);
  EXPECT_TRUE(both.activation.dynamic);
}

TEST(SchemeTest, ErrorsNameTheField) {
  EXPECT_EQ(FailingField("w9a8"), "weight_bits");
  EXPECT_EQ(FailingField("w1a16"), "weight_bits");
  EXPECT_EQ(FailingField("w4a32"), "activation_bits");
  EXPECT_EQ(FailingField("w4a12"), "activation_bits");
  EXPECT_EQ(FailingField("w4a16-g0"), "group_size");
  EXPECT_EQ(FailingField("w4a4-g7x"), "group_size");
  EXPECT_EQ(FailingField("w4a4-g"), "group_size");
  EXPECT_EQ(FailingField("w4a4-g-5"), "group_size");
  EXPECT_EQ(FailingField(""), "scheme");
  EXPECT_EQ(FailingField("int4"), "scheme");
  EXPECT_EQ(FailingField("w4"), "scheme");
  EXPECT_EQ(FailingField("w4a"), "scheme");
  EXPECT_EQ(FailingField("w4a4x"), "scheme");
  EXPECT_EQ(FailingField("w4a4-foo"), "scheme");
  EXPECT_EQ(FailingField("w4a4-pt-pt"), "scheme");
  EXPECT_EQ(FailingField("w4a4-g64-g64"), "scheme");
  EXPECT_EQ(FailingField("w4a16-pt"), "scheme");
  EXPECT_EQ(FailingField("w4a4-pt-g128"), "scheme");
  EXPECT_EQ(FailingField("w4a4-"), "scheme");
  EXPECT_EQ(FailingField("w4a4"), "");
}

}  // namespace
}  // namespace quantd::engine::quant
