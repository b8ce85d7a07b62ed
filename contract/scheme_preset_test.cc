#include "contract/scheme_preset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "contract/contract_error.h"

namespace quantd::contract {
namespace {

using ::testing::HasSubstr;

std::string FieldOf(std::string_view text) {
  try {
    ParseSchemePreset(text);
  } catch (const ContractError& error) {
    return error.field();
  }
  return "";
}

TEST(SchemePresetTest, W8A8IsSymmetricPerChannelWithDynamicPerToken) {
  const SchemePreset preset = ParseSchemePreset("W8A8");
  EXPECT_EQ(preset.name, "w8a8");
  EXPECT_TRUE(preset.weights.enabled);
  EXPECT_TRUE(preset.weights.symmetric);
  EXPECT_EQ(preset.weights.granularity, Granularity::kPerChannel);
  EXPECT_TRUE(preset.activations.symmetric);
  EXPECT_EQ(preset.activations.granularity, Granularity::kPerToken);
  EXPECT_TRUE(preset.activations.dynamic);
}

TEST(SchemePresetTest, PerTensorPresetsAreStaticAvgMinMax) {
  const SchemePreset int8 = ParseSchemePreset("w8a8-pt");
  EXPECT_EQ(int8.weights.granularity, Granularity::kPerTensor);
  EXPECT_EQ(int8.activations.granularity, Granularity::kPerTensor);
  EXPECT_FALSE(int8.activations.dynamic);
  EXPECT_EQ(int8.activations.observer, "avg_minmax");
  const SchemePreset int6 = ParseSchemePreset("w6a6-pt");
  EXPECT_FALSE(int6.weights.symmetric);
  EXPECT_EQ(int6.weights.granularity, Granularity::kPerChannel);
}

TEST(SchemePresetTest, WeightOnlyGroupsAreAsymmetric) {
  const SchemePreset preset = ParseSchemePreset("w4a16-g32");
  EXPECT_EQ(preset.name, "w4a16-g32");
  EXPECT_FALSE(preset.weights.symmetric);
  EXPECT_EQ(preset.weights.granularity, Granularity::kPerGroup);
  EXPECT_EQ(preset.weights.group_size, 32);
  EXPECT_FALSE(preset.activations.enabled);
  EXPECT_EQ(preset.activation_bits, kUnquantizedBits);
}

TEST(SchemePresetTest, GroupedActivationsFollowTheWeightGroups) {
  const SchemePreset preset = ParseSchemePreset("w4a4-g128");
  EXPECT_EQ(preset.activations.granularity, Granularity::kPerGroup);
  EXPECT_EQ(preset.activations.group_size, 128);
  EXPECT_TRUE(preset.activations.dynamic);
}

TEST(SchemePresetTest, ErrorsNameTheField) {
  EXPECT_EQ(FieldOf("w9a8"), "weight_bits");
  EXPECT_EQ(FieldOf("w8a12"), "activation_bits");
  EXPECT_EQ(FieldOf("w4a16-g0"), "group_size");
  EXPECT_EQ(FieldOf("w4a16-gx"), "group_size");
  EXPECT_EQ(FieldOf("w4a16-pt"), "scheme");
  EXPECT_EQ(FieldOf("w8a8-pt-g32"), "scheme");
  EXPECT_EQ(FieldOf("int8"), "scheme");
  EXPECT_EQ(FieldOf("w8a8-xyz"), "scheme");
  try {
    ParseSchemePreset("w8a8-pt-pt");
    FAIL();
  } catch (const ContractError& error) {
    EXPECT_THAT(error.what(), HasSubstr("'w8a8-pt-pt'"));
  }
}

}  // namespace
}  // namespace quantd::contract
