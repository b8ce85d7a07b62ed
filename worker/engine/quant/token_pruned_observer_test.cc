#include "worker/engine/quant/token_pruned_observer.h"

#include <gtest/gtest.h>

#include <vector>

#include "worker/engine/quant/errors.h"
#include "worker/engine/quant/quant_test_util.h"

namespace quantd::engine::quant {
namespace {

// 20 tokens of 4 channels: token t is [a, -a, a/2, 0] with a = (t + 1) / 20,
// except the outlier tokens 7 = [50, -0.2, 0, 0] and 13 = [0.1, -40, 0, 0].
at::Tensor Tokens() {
  at::Tensor x = at::zeros({20, 4});
  for (int64_t t = 0; t < 20; ++t) {
    const float a = static_cast<float>(t + 1) / 20.0f;
    x[t][0] = a;
    x[t][1] = -a;
    x[t][2] = a / 2.0f;
  }
  x[7][0] = 50.0f;
  x[7][1] = -0.2f;
  x[7][2] = 0.0f;
  x[13][0] = 0.1f;
  x[13][1] = -40.0f;
  x[13][2] = 0.0f;
  return x;
}

TEST(TokenPrunedObserverTest, QuantileOfTokenExtremaExcludesOutlierTokens) {
  // Sorted |u|: ..., 0.9, 0.95, 1.0, 50; quantile 0.9 sits at position
  // 17.1: U = 0.95 + 0.1 · 0.05 = 0.955, so upper = max{u ≤ U} = 0.95 (the
  // rule drops the largest regular token as well). Symmetrically for l.
  const MinMaxRange range = TokenPrunedRange(Tokens(), 0.9);
  EXPECT_FLOAT_EQ(range.max.item<float>(), 0.95f);
  EXPECT_FLOAT_EQ(range.min.item<float>(), -0.95f);
}

TEST(TokenPrunedObserverTest, AlphaOneKeepsEveryToken) {
  const MinMaxRange range = TokenPrunedRange(Tokens(), 1.0);
  EXPECT_EQ(range.max.item<float>(), 50.0f);
  EXPECT_EQ(range.min.item<float>(), -40.0f);
}

TEST(TokenPrunedObserverTest, PaddingIsRemovedBeforePruning) {
  QuantConfig config;
  config.observer = ObserverKind::kTokenPrunedMinMax;
  config.observer_options.token_quantile = 1.0;
  std::unique_ptr<Observer> observer = MakeObserver(config);
  at::Tensor mask = at::ones({1, 20}, at::kBool);
  mask[0][7] = false;
  mask[0][13] = false;
  observer->ObserveTokens(Tokens().reshape({1, 20, 4}), mask);
  EXPECT_EQ(observer->Range().max.item<float>(), 1.0f);
  EXPECT_EQ(observer->Range().min.item<float>(), -1.0f);
}

TEST(TokenPrunedObserverTest, BatchRangesAreAveraged) {
  TokenPrunedMinMaxObserver observer(0.9);
  observer.Observe(Tokens());
  observer.Observe(Tokens() * 2.0);
  EXPECT_FLOAT_EQ(observer.Range().max.item<float>(), (0.95f + 1.9f) / 2.0f);
  EXPECT_FLOAT_EQ(observer.Range().min.item<float>(), -(0.95f + 1.9f) / 2.0f);
}

TEST(TokenPrunedObserverTest, RejectsEmptyInputAndBadAlpha) {
  EXPECT_THROW(TokenPrunedRange(at::zeros({0, 4}), 0.9), QuantError);
  EXPECT_THROW(TokenPrunedRange(Tokens(), 0.0), QuantError);
}

}  // namespace
}  // namespace quantd::engine::quant
