#include "worker/engine/quant/mse_observer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "worker/engine/quant/fake_quant.h"
#include "worker/engine/quant/granularity.h"
#include "worker/engine/quant/quant_test_util.h"

namespace quantd::engine::quant {
namespace {

using testing::Values;

QuantConfig MseConfig(int bits, bool symmetric,
                      Granularity granularity = Granularity::kPerTensor) {
  QuantConfig config;
  config.bits = bits;
  config.symmetric = symmetric;
  config.granularity = granularity;
  config.observer = ObserverKind::kMse;
  return config;
}

// Mean squared fake-quantization error of each row for a given range.
std::vector<float> RowErrors(const at::Tensor& x, const MinMaxRange& range,
                             const QuantConfig& config) {
  const QParams q = ComputeQParams(range, config);
  const at::Tensor y = FakeQuantize(x, q, config.granularity, 0);
  const at::Tensor rows = RowView(x, config.granularity, 0);
  return Values((RowView(y, config.granularity, 0) - rows).pow(2).mean(1));
}

// Gaussian bulk with one far outlier. With 10^4 values, clipping the
// outlier costs (25 - t)² / 10^4 ≈ 0.05 while the min/max grid's rounding
// error is about (28 / 15)² / 12 ≈ 0.3, so the optimum clips.
at::Tensor WithOutlier() {
  at::manual_seed(11);
  at::Tensor x = at::randn({10000});
  x[17] = 25.0f;
  return x;
}

TEST(MseObserverTest, AsymmetricSearchBeatsMinMaxOnOutliers) {
  const at::Tensor x = WithOutlier();
  const QuantConfig config = MseConfig(4, false);
  const MinMaxRange searched = SearchMseRange(x, config);
  const MinMaxRange minmax = RowMinMax(x, Granularity::kPerTensor, 0);
  EXPECT_LT(searched.max.item<float>(), 25.0f);
  EXPECT_GE(searched.min.item<float>(), minmax.min.item<float>());
  EXPECT_LT(RowErrors(x, searched, config)[0],
            0.5f * RowErrors(x, minmax, config)[0]);
}

TEST(MseObserverTest, SymmetricOneDimensionalGrid) {
  const at::Tensor x = WithOutlier();
  const QuantConfig config = MseConfig(4, true);
  const MinMaxRange searched = SearchMseRange(x, config);
  const MinMaxRange minmax = RowMinMax(x, Granularity::kPerTensor, 0);
  // The choice is a grid point [-t, t] with t = 25 · i / 100.
  const float t = searched.max.item<float>();
  EXPECT_EQ(searched.min.item<float>(), -t);
  const float step = t / (25.0f / 100.0f);
  EXPECT_NEAR(step, std::round(step), 1e-3);
  EXPECT_LT(RowErrors(x, searched, config)[0], RowErrors(x, minmax, config)[0]);
}

TEST(MseObserverTest, OneSidedDataKeepsZeroAsTheMinimum) {
  const at::Tensor x = WithOutlier().abs();
  const MinMaxRange searched = SearchMseRange(x, MseConfig(4, false));
  EXPECT_EQ(searched.min.item<float>(), 0.0f);
  EXPECT_LT(searched.max.item<float>(), 25.0f);
}

TEST(MseObserverTest, PerChannelSearchesEachRow) {
  at::manual_seed(5);
  // Only row 1 has an outlier; min/max error ≈ (33 / 15)² / 12 ≈ 0.4,
  // clipping it near 6 costs ≈ 24² / 4096 + 0.03 ≈ 0.17.
  at::Tensor w = at::randn({3, 4096});
  w[1][9] = 30.0f;
  const QuantConfig config = MseConfig(4, false, Granularity::kPerChannel);
  const MinMaxRange searched = SearchMseRange(w, config);
  const MinMaxRange minmax = RowMinMax(w, Granularity::kPerChannel, 0);
  ASSERT_EQ(searched.min.numel(), 3);
  const std::vector<float> searched_error = RowErrors(w, searched, config);
  const std::vector<float> minmax_error = RowErrors(w, minmax, config);
  for (int row = 0; row < 3; ++row) {
    EXPECT_LE(searched_error[row], minmax_error[row]) << row;
  }
  EXPECT_LT(Values(searched.max)[1], 30.0f);
  EXPECT_LT(searched_error[1], 0.6f * minmax_error[1]);
}

TEST(MseObserverTest, RunningAndAverageAccumulation) {
  const at::Tensor a = WithOutlier();
  const at::Tensor b = WithOutlier() * 0.5;
  const QuantConfig config = MseConfig(4, true);
  const float ta = SearchMseRange(a, config).max.item<float>();
  const float tb = SearchMseRange(b, config).max.item<float>();
  MseObserver running(config, Accumulation::kRunning);
  running.Observe(a);
  running.Observe(b);
  EXPECT_FLOAT_EQ(running.Range().max.item<float>(), std::max(ta, tb));
  QuantConfig avg_config = config;
  avg_config.observer = ObserverKind::kAvgMse;
  std::unique_ptr<Observer> average = MakeObserver(avg_config);
  average->Observe(a);
  average->Observe(b);
  EXPECT_FLOAT_EQ(average->Range().max.item<float>(), (ta + tb) / 2.0f);
}

}  // namespace
}  // namespace quantd::engine::quant
