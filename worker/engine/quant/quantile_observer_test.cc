#include "worker/engine/quant/quantile_observer.h"

#include <gtest/gtest.h>

#include "worker/engine/quant/errors.h"
#include "worker/engine/quant/quant_test_util.h"

namespace quantd::engine::quant {
namespace {

// 0.5, 1.5, ..., 2047.5 and 2048: with 2048 bins over [0, 2048] every bin
// is 1 wide, bin k holds k + 0.5, and the last also holds 2048.
at::Tensor BinCentres() {
  return at::cat({at::arange(2048, at::kFloat) + 0.5, at::full({1}, 2048.0f)});
}

TEST(QuantileObserverTest, ClipIsTheCentreOfTheQuantileBin) {
  // 2049 values; half is 1024.5, first reached by bin 1024 (count 1025).
  EXPECT_EQ(QuantileClip(BinCentres(), 0.5, 2048), 1024.5f);
  // 0.999 · 2049 = 2046.95, reached by bin 2046.
  EXPECT_EQ(QuantileClip(BinCentres(), 0.999, 2048), 2046.5f);
  EXPECT_EQ(QuantileClip(BinCentres(), 1.0, 2048), 2047.5f);
  // Uses |x|.
  EXPECT_EQ(QuantileClip(-BinCentres(), 0.5, 2048), 1024.5f);
  EXPECT_EQ(QuantileClip(at::zeros({5}), 0.5, 2048), 0.0f);
  EXPECT_THROW(QuantileClip(at::zeros({0}), 0.5, 2048), QuantError);
}

TEST(QuantileObserverTest, AverageOfClippedBatchRanges) {
  QuantConfig config;
  config.observer = ObserverKind::kAvgQuantile;
  config.observer_options.quantile_threshold = 0.5;
  std::unique_ptr<Observer> observer = MakeObserver(config);
  // Batch 1 range [0.5, 2048] clipped to [0.5, 1024.5]; batch 2 (negated)
  // [-2048, -0.5] clipped to [-1024.5, -0.5].
  observer->Observe(BinCentres());
  EXPECT_EQ(observer->Range().min.item<float>(), 0.5f);
  EXPECT_EQ(observer->Range().max.item<float>(), 1024.5f);
  observer->Observe(-BinCentres());
  EXPECT_EQ(observer->Range().min.item<float>(), -512.0f);
  EXPECT_EQ(observer->Range().max.item<float>(), 512.0f);
}

TEST(QuantileObserverTest, EmaOfClippedBatchRanges) {
  QuantConfig config;
  config.observer = ObserverKind::kEmaQuantile;
  config.observer_options.quantile_threshold = 0.5;
  std::unique_ptr<Observer> observer = MakeObserver(config);
  observer->Observe(BinCentres());
  observer->Observe(-BinCentres());
  // min = 0.9·0.5 + 0.1·(-1024.5) = -102; max = 0.9·1024.5 + 0.1·(-0.5) = 922.
  EXPECT_FLOAT_EQ(observer->Range().min.item<float>(), -102.0f);
  EXPECT_FLOAT_EQ(observer->Range().max.item<float>(), 922.0f);
}

}  // namespace
}  // namespace quantd::engine::quant
