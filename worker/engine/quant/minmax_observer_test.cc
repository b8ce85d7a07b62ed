#include "worker/engine/quant/minmax_observer.h"

#include <gtest/gtest.h>

#include <vector>

#include "worker/engine/quant/errors.h"
#include "worker/engine/quant/quant_test_util.h"

namespace quantd::engine::quant {
namespace {

using testing::Floats;
using testing::Values;

// Batches with ranges [-1, 2] then [-3, 1].
MinMaxRange ObserveTwoBatches(ObserverKind kind) {
  QuantConfig config;
  config.observer = kind;
  std::unique_ptr<Observer> observer = MakeObserver(config);
  observer->Observe(Floats({-1.0f, 0.0f, 2.0f}));
  observer->Observe(Floats({1.0f, -3.0f}));
  return observer->Range();
}

TEST(MinMaxObserverTest, MinMaxOverwrites) {
  const MinMaxRange range = ObserveTwoBatches(ObserverKind::kMinMax);
  EXPECT_EQ(range.min.item<float>(), -3.0f);
  EXPECT_EQ(range.max.item<float>(), 1.0f);
}

TEST(MinMaxObserverTest, RunningMinMaxKeepsTheExtremes) {
  const MinMaxRange range = ObserveTwoBatches(ObserverKind::kRunningMinMax);
  EXPECT_EQ(range.min.item<float>(), -3.0f);
  EXPECT_EQ(range.max.item<float>(), 2.0f);
}

TEST(MinMaxObserverTest, AvgMinMaxAverages) {
  const MinMaxRange range = ObserveTwoBatches(ObserverKind::kAvgMinMax);
  EXPECT_EQ(range.min.item<float>(), -2.0f);
  EXPECT_EQ(range.max.item<float>(), 1.5f);
}

TEST(MinMaxObserverTest, EmaMinMaxWeightsOldByPointNine) {
  // min = 0.9·(-1) + 0.1·(-3) = -1.2; max = 0.9·2 + 0.1·1 = 1.9.
  const MinMaxRange range = ObserveTwoBatches(ObserverKind::kEmaMinMax);
  EXPECT_FLOAT_EQ(range.min.item<float>(), -1.2f);
  EXPECT_FLOAT_EQ(range.max.item<float>(), 1.9f);
}

TEST(MinMaxObserverTest, AvgOfThreeBatches) {
  MinMaxObserver observer(Granularity::kPerTensor, 0, Accumulation::kAverage);
  observer.Observe(Floats({-1.0f, 1.0f}));
  observer.Observe(Floats({-2.0f, 4.0f}));
  observer.Observe(Floats({-6.0f, 7.0f}));
  EXPECT_FLOAT_EQ(observer.Range().min.item<float>(), -3.0f);
  EXPECT_FLOAT_EQ(observer.Range().max.item<float>(), 4.0f);
}

TEST(MinMaxObserverTest, PerChannelRunning) {
  MinMaxObserver observer(Granularity::kPerChannel, 0, Accumulation::kRunning);
  observer.Observe(Floats({1.0f, -1.0f, 2.0f, 3.0f}, {2, 2}));
  observer.Observe(Floats({5.0f, 0.0f, 2.5f, 2.5f}, {2, 2}));
  EXPECT_EQ(Values(observer.Range().min), (std::vector<float>{-1.0f, 2.0f}));
  EXPECT_EQ(Values(observer.Range().max), (std::vector<float>{5.0f, 3.0f}));
  EXPECT_THROW(observer.Observe(at::zeros({3, 2})), QuantError);
}

TEST(MinMaxObserverTest, ObserveTokensDropsPaddingFirst) {
  QuantConfig config;
  config.observer = ObserverKind::kAvgMinMax;
  std::unique_ptr<Observer> observer = MakeObserver(config);
  // Token 1 is padding with an outlier; it must not count.
  const at::Tensor x =
      Floats({-1.0f, 2.0f, 100.0f, -100.0f, 0.5f, 0.0f}, {1, 3, 2});
  const at::Tensor mask =
      at::tensor(std::vector<int64_t>{1, 0, 1}).to(at::kBool).reshape({1, 3});
  observer->ObserveTokens(x, mask);
  EXPECT_EQ(observer->Range().min.item<float>(), -1.0f);
  EXPECT_EQ(observer->Range().max.item<float>(), 2.0f);
  // An all-padding batch is skipped.
  observer->ObserveTokens(x, at::zeros({1, 3}, at::kBool));
  EXPECT_EQ(observer->Range().max.item<float>(), 2.0f);
}

TEST(MinMaxObserverTest, RangeBeforeObservingThrowsAndResetForgets) {
  MinMaxObserver observer(Granularity::kPerTensor, 0, Accumulation::kOverwrite);
  EXPECT_FALSE(observer.HasRange());
  EXPECT_THROW(observer.Range(), QuantError);
  observer.Observe(Floats({1.0f}));
  EXPECT_TRUE(observer.HasRange());
  observer.Reset();
  EXPECT_FALSE(observer.HasRange());
  EXPECT_THROW(observer.Observe(at::zeros({0})), QuantError);
}

}  // namespace
}  // namespace quantd::engine::quant
