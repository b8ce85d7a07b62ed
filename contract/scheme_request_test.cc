#include "contract/scheme_request.h"

#include <gtest/gtest.h>

#include <string>

#include "contract/contract_error.h"

namespace quantd::contract {
namespace {

// The field of the ContractError, or "" when the request resolves.
std::string RejectedField(const SchemeRequest& request) {
  try {
    ResolveScheme(request);
  } catch (const ContractError& error) {
    return error.field();
  }
  return "";
}

SchemeRequest Preset(const std::string& preset) {
  SchemeRequest request;
  request.preset = preset;
  return request;
}

TEST(SchemeRequestTest, APresetAloneIsItsExpansion) {
  const SchemePreset resolved = ResolveScheme(Preset("w4a16-g32"));
  const SchemePreset expanded = ParseSchemePreset("w4a16-g32");
  EXPECT_EQ(resolved.name, "w4a16-g32");
  EXPECT_EQ(resolved.weights.group_size, expanded.weights.group_size);
  EXPECT_EQ(resolved.weights.symmetric, expanded.weights.symmetric);
  EXPECT_FALSE(resolved.activations.enabled);
  EXPECT_EQ(resolved.activation_bits, kUnquantizedBits);
}

TEST(SchemeRequestTest, ExplicitFieldsOverrideThePreset) {
  SchemeRequest request = Preset("w8a8");
  request.weights = TensorOverride{};
  request.weights->symmetric = false;
  request.weights->group_size = 64;
  const SchemePreset resolved = ResolveScheme(request);
  EXPECT_EQ(resolved.name, "w8a8+custom");
  EXPECT_FALSE(resolved.weights.symmetric);
  EXPECT_EQ(resolved.weights.granularity, Granularity::kPerGroup);
  EXPECT_EQ(resolved.group_size, 64);
  EXPECT_EQ(resolved.activations.granularity, Granularity::kPerToken);
}

TEST(SchemeRequestTest, AnExplicitSchemeNeedsWeightsAndStartsPerToken) {
  SchemeRequest request;
  EXPECT_EQ(RejectedField(request), "scheme");
  request.activations = TensorOverride{};
  request.activations->bits = 8;
  EXPECT_EQ(RejectedField(request), "scheme");
  request.weights = TensorOverride{};
  request.weights->bits = 6;
  const SchemePreset resolved = ResolveScheme(request);
  EXPECT_EQ(resolved.name, "custom");
  EXPECT_EQ(resolved.weights.granularity, Granularity::kPerChannel);
  EXPECT_EQ(resolved.activations.granularity, Granularity::kPerToken);
  EXPECT_TRUE(resolved.activations.dynamic);
  EXPECT_EQ(resolved.activation_bits, 8);
}

TEST(SchemeRequestTest, BitsEnableAndDisableAClass) {
  SchemeRequest request = Preset("w8a8");
  request.activations = TensorOverride{};
  request.activations->bits = 0;
  SchemePreset resolved = ResolveScheme(request);
  EXPECT_FALSE(resolved.activations.enabled);
  EXPECT_EQ(resolved.activation_bits, kUnquantizedBits);
  request.activations->enabled = true;
  EXPECT_EQ(RejectedField(request), "scheme.activations.bits");
  request = Preset("w8a8");
  request.weights = TensorOverride{};
  request.weights->enabled = false;
  request.activations = TensorOverride{};
  request.activations->enabled = false;
  EXPECT_EQ(RejectedField(request), "scheme");
}

TEST(SchemeRequestTest, EachBrokenRuleNamesItsField) {
  auto with = [](auto edit) {
    SchemeRequest request = Preset("w8a8");
    request.weights = TensorOverride{};
    request.activations = TensorOverride{};
    edit(request);
    return RejectedField(request);
  };
  EXPECT_EQ(with([](SchemeRequest& r) { r.preset = "w9a9"; }), "scheme.preset");
  EXPECT_EQ(with([](SchemeRequest& r) { r.weights->bits = 12; }),
            "scheme.weights.bits");
  EXPECT_EQ(with([](SchemeRequest& r) { r.weights->dynamic = true; }),
            "scheme.weights.dynamic");
  EXPECT_EQ(with([](SchemeRequest& r) {
              r.weights->granularity = Granularity::kPerToken;
            }),
            "scheme.weights.granularity");
  EXPECT_EQ(with([](SchemeRequest& r) {
              r.activations->granularity = Granularity::kPerChannel;
            }),
            "scheme.activations.granularity");
  EXPECT_EQ(with([](SchemeRequest& r) {
              r.weights->granularity = Granularity::kPerChannel;
              r.weights->group_size = 32;
            }),
            "scheme.weights.group_size");
  EXPECT_EQ(with([](SchemeRequest& r) {
              r.weights->granularity = Granularity::kPerGroup;
            }),
            "scheme.weights.group_size");
  EXPECT_EQ(with([](SchemeRequest& r) { r.weights->observer = "guess"; }),
            "scheme.weights.observer");
  EXPECT_EQ(with([](SchemeRequest& r) { r.activations->observer = "mse"; }),
            "scheme.activations.observer");
  EXPECT_EQ(with([](SchemeRequest& r) {
              r.activations->granularity = Granularity::kPerTensor;
              r.activations->observer = "avg_minmax";
            }),
            "scheme.activations.observer");
}

TEST(SchemeRequestTest, SwitchingToStaticTakesTheStaticObserver) {
  SchemeRequest request = Preset("w8a8");
  request.activations = TensorOverride{};
  request.activations->granularity = Granularity::kPerTensor;
  request.activations->dynamic = false;
  SchemePreset resolved = ResolveScheme(request);
  EXPECT_FALSE(resolved.activations.dynamic);
  EXPECT_EQ(resolved.activations.observer, "avg_minmax");
  EXPECT_TRUE(resolved.per_tensor_activations);
  request.activations->observer = "quantile";
  resolved = ResolveScheme(request);
  EXPECT_EQ(resolved.activations.observer, "avg_quantile");
}

TEST(SchemeRequestTest, GroupsMustDivideTheModelsDimensions) {
  const SchemePreset grouped = ResolveScheme(Preset("w4a4-g48"));
  EXPECT_NO_THROW(CheckGroupsDivide(grouped, 576, 1536));
  EXPECT_NO_THROW(CheckGroupsDivide(grouped, 0, 0));
  try {
    CheckGroupsDivide(grouped, 64, 1536);
    FAIL() << "48 does not divide 64";
  } catch (const ContractError& error) {
    EXPECT_EQ(error.field(), "scheme.weights.group_size");
  }
}

TEST(SchemeRequestTest, ObserverNamesAreCanonical) {
  for (const std::string& name : ObserverNames()) {
    EXPECT_EQ(CanonicalObserver(name), name);
  }
  EXPECT_EQ(CanonicalObserver("quantile"), "avg_quantile");
  EXPECT_FALSE(CanonicalObserver("guess").has_value());
}

}  // namespace
}  // namespace quantd::contract
