#include "worker/engine/quant/quant_config.h"

#include <gtest/gtest.h>

#include <string>

#include "worker/engine/quant/errors.h"

namespace quantd::engine::quant {
namespace {

// Runs ValidateQuantConfig and returns the field of the ConfigError, or ""
// when the config is valid.
std::string FailingField(const QuantConfig& config) {
  try {
    ValidateQuantConfig(config);
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find(error.field()), std::string::npos)
        << "message must name the field: " << error.what();
    return error.field();
  }
  return "";
}

TEST(QuantConfigTest, DefaultIsValid) { EXPECT_EQ(FailingField({}), ""); }

TEST(QuantConfigTest, RejectsBitsOutsideTwoToEight) {
  QuantConfig config;
  config.bits = 9;
  EXPECT_EQ(FailingField(config), "bits");
  config.bits = 1;
  EXPECT_EQ(FailingField(config), "bits");
  config.bits = 2;
  EXPECT_EQ(FailingField(config), "");
}

TEST(QuantConfigTest, DisabledConfigIsAlwaysValid) {
  QuantConfig config;
  config.enabled = false;
  config.bits = 16;
  EXPECT_EQ(FailingField(config), "");
}

TEST(QuantConfigTest, GroupSizeOnlyForPerGroup) {
  QuantConfig config;
  config.granularity = Granularity::kPerGroup;
  EXPECT_EQ(FailingField(config), "group_size");
  config.group_size = -4;
  EXPECT_EQ(FailingField(config), "group_size");
  config.group_size = 128;
  EXPECT_EQ(FailingField(config), "");
  config.granularity = Granularity::kPerChannel;
  EXPECT_EQ(FailingField(config), "group_size");
}

TEST(QuantConfigTest, PerTokenMustBeDynamic) {
  QuantConfig config;
  config.granularity = Granularity::kPerToken;
  EXPECT_EQ(FailingField(config), "dynamic");
  config.dynamic = true;
  EXPECT_EQ(FailingField(config), "");
}

TEST(QuantConfigTest, DynamicQuantizersUseMinMax) {
  QuantConfig config;
  config.dynamic = true;
  config.observer = ObserverKind::kAvgMinMax;
  EXPECT_EQ(FailingField(config), "observer");
}

TEST(QuantConfigTest, PerTensorOnlyObservers) {
  for (ObserverKind kind :
       {ObserverKind::kAvgMinMax, ObserverKind::kAvgQuantile,
        ObserverKind::kEmaQuantile, ObserverKind::kTokenPrunedMinMax}) {
    QuantConfig config;
    config.observer = kind;
    EXPECT_EQ(FailingField(config), "") << ObserverKindName(kind);
    config.granularity = Granularity::kPerChannel;
    EXPECT_EQ(FailingField(config), "observer") << ObserverKindName(kind);
  }
  QuantConfig mse;
  mse.observer = ObserverKind::kMse;
  mse.granularity = Granularity::kPerChannel;
  EXPECT_EQ(FailingField(mse), "");
}

TEST(QuantConfigTest, ObserverOptionRanges) {
  QuantConfig config;
  config.observer_options.quantile_threshold = 0.0;
  EXPECT_EQ(FailingField(config), "observer_options.quantile_threshold");
  config = {};
  config.observer_options.histogram_bins = 0;
  EXPECT_EQ(FailingField(config), "observer_options.histogram_bins");
  config = {};
  config.observer_options.ema_decay = 1.0;
  EXPECT_EQ(FailingField(config), "observer_options.ema_decay");
  config = {};
  config.observer_options.mse_steps = 0;
  EXPECT_EQ(FailingField(config), "observer_options.mse_steps");
  config = {};
  config.observer_options.token_quantile = 1.5;
  EXPECT_EQ(FailingField(config), "observer_options.token_quantile");
}

TEST(QuantConfigTest, GridsFollowTheConventions) {
  QuantConfig config;
  config.bits = 8;
  EXPECT_EQ(GridOf(config).qmin, 0);
  EXPECT_EQ(GridOf(config).qmax, 255);
  config.symmetric = true;
  EXPECT_EQ(GridOf(config).qmin, -127);  // OS+ narrow.
  EXPECT_EQ(GridOf(config).qmax, 127);
  config.grid = Grid::kOsFull;
  EXPECT_EQ(GridOf(config).qmin, -128);
  EXPECT_EQ(GridOf(config).qmax, 127);
  config.bits = 4;
  EXPECT_EQ(GridOf(config).qmin, -8);
  EXPECT_EQ(GridOf(config).qmax, 7);
  config.grid = Grid::kOsPlusNarrow;
  EXPECT_EQ(GridOf(config).qmin, -7);
  EXPECT_EQ(GridOf(config).qmax, 7);
  config.include_zero = false;  // OmniQuant symmetric: [0, 2^b - 1].
  EXPECT_EQ(GridOf(config).qmin, 0);
  EXPECT_EQ(GridOf(config).qmax, 15);
}

TEST(QuantConfigTest, NamesRoundTrip) {
  for (Granularity g : {Granularity::kPerTensor, Granularity::kPerChannel,
                        Granularity::kPerToken, Granularity::kPerGroup}) {
    EXPECT_EQ(ParseGranularity(GranularityName(g), "granularity"), g);
  }
  for (ObserverKind k : {ObserverKind::kMinMax, ObserverKind::kRunningMinMax,
                         ObserverKind::kAvgMinMax, ObserverKind::kEmaMinMax,
                         ObserverKind::kAvgQuantile, ObserverKind::kEmaQuantile,
                         ObserverKind::kMse, ObserverKind::kAvgMse,
                         ObserverKind::kTokenPrunedMinMax}) {
    EXPECT_EQ(ParseObserverKind(ObserverKindName(k), "observer"), k);
  }
  EXPECT_EQ(ParseGrid("os_full", "grid"), Grid::kOsFull);
}

TEST(QuantConfigTest, UnknownNameNamesTheField) {
  try {
    ParseGranularity("per_row", "weight.granularity");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_EQ(error.field(), "weight.granularity");
    EXPECT_NE(std::string(error.what()).find("per_row"), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("per_token"), std::string::npos);
  }
}

TEST(QuantConfigTest, Describe) {
  QuantConfig config;
  config.bits = 4;
  config.granularity = Granularity::kPerGroup;
  config.group_size = 128;
  config.dynamic = true;
  EXPECT_EQ(DescribeQuantConfig(config), "int4 asym per_group(128) dynamic");
  QuantConfig sym;
  sym.symmetric = true;
  sym.observer = ObserverKind::kAvgMinMax;
  EXPECT_EQ(DescribeQuantConfig(sym),
            "int8 sym(os_plus_narrow) per_tensor static avg_minmax");
  sym.enabled = false;
  EXPECT_EQ(DescribeQuantConfig(sym), "disabled");
}

}  // namespace
}  // namespace quantd::engine::quant
