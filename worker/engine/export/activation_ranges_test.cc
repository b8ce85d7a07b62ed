#include "worker/engine/export/activation_ranges.h"

#include <gtest/gtest.h>

#include <cmath>

#include "worker/engine/export/export_error.h"

namespace quantd::engine::exporting {
namespace {

TEST(ActivationRangesTest, PerChannelMinMaxReducesEverythingButTheLastDim) {
  at::Tensor x =
      at::tensor({1.0f, -2.0f, 3.0f, 4.0f, 5.0f, -6.0f}).reshape({1, 2, 3});
  auto [min, max] = PerChannelMinMax(x);
  EXPECT_TRUE(at::equal(min, at::tensor({1.0f, -2.0f, -6.0f})));
  EXPECT_TRUE(at::equal(max, at::tensor({4.0f, 5.0f, 3.0f})));
  auto merged =
      MergeRanges({min, max}, PerChannelMinMax(at::full({2, 3}, 9.0)));
  EXPECT_TRUE(at::equal(merged.second, at::full({3}, 9.0f)));
  EXPECT_TRUE(at::equal(merged.first, min));
}

TEST(ActivationRangesTest, OutlierRatioIsLargestOverMedianChannel) {
  at::Tensor max = at::tensor({1.0f, 2.0f, 100.0f});
  EXPECT_DOUBLE_EQ(OutlierRatio(-max * 0.5, max), 50.0);
  EXPECT_DOUBLE_EQ(OutlierRatio(at::zeros({3}), at::zeros({3})), 1.0);
  EXPECT_TRUE(
      std::isinf(OutlierRatio(at::zeros({3}), at::tensor({0.0f, 0.0f, 1.0f}))));
}

TEST(ActivationRangesTest, SummarizesAndRanksSites) {
  at::Tensor base = at::ones({4});
  at::Tensor spiky = at::tensor({1.0f, 1.0f, 1.0f, 30.0f});
  std::vector<ChannelRange> ranges = {{"b", -base, base, {}, {}},
                                      {"a", -base, spiky, -base, base * 2},
                                      {"c", -base, base, {}, {}}};
  EXPECT_EQ(WorstRanges(ranges, 2), (std::vector<size_t>{1, 0}));
  nlohmann::json summary = SummarizeRange(ranges[1]);
  EXPECT_EQ(summary["channels"], 4);
  EXPECT_DOUBLE_EQ(summary["before_absmax"].get<double>(), 30.0);
  EXPECT_DOUBLE_EQ(summary["before_outlier_ratio"].get<double>(), 30.0);
  EXPECT_DOUBLE_EQ(summary["after_absmax"].get<double>(), 2.0);
  EXPECT_FALSE(SummarizeRange(ranges[0]).contains("after_absmax"));
  EXPECT_THROW(SummarizeRange({"bad", base, at::ones({3}), {}, {}}),
               ExportError);
}

TEST(ActivationRangesTest, PlotsBothBandsUnderASafeFileName) {
  at::Tensor max = at::ones({8});
  std::string svg = RenderRangePlot(
      {"model.layers.0.attn_in", -max, max, -max * 0.5, max * 0.5});
  EXPECT_NE(svg.find("before: per-channel"), std::string::npos);
  EXPECT_NE(svg.find("after: per-channel"), std::string::npos);
  EXPECT_EQ(PlotFileName("model.layers.0/attn in"),
            "model.layers.0_attn_in.svg");
}

}  // namespace
}  // namespace quantd::engine::exporting
