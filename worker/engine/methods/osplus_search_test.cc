// The OS+ threshold search: the grid and s(t) follow the formulas of
// docs/ALGORITHMS.md §2.3, a known outlier channel is squeezed, ties keep
// the larger threshold, and stacked-candidate evaluation equals evaluating
// one candidate at a time through SiteForward with real quantized layers
// for every kind of site function; the coarse-to-fine search evaluates a
// few candidates of the same curve and lands on a local minimum.
#include "worker/engine/methods/osplus_search.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "worker/engine/methods/methods_test_util.h"
#include "worker/engine/quant/scheme.h"

namespace quantd::engine::methods {
namespace {

using testing::TinyModel;

TEST(CandidateThresholdsTest, FollowsTheGridFormula) {
  // A+ = 60: K = max(100, 120) = 120, step = (60 − 1) / 120.
  std::vector<double> grid = CandidateThresholds(60.0, -2.0, 1.0);
  ASSERT_FALSE(grid.empty());
  const double step = 59.0 / 120.0;
  EXPECT_DOUBLE_EQ(grid.front(), 60.0);
  for (size_t i = 1; i < grid.size(); ++i) {
    EXPECT_NEAR(grid[i - 1] - grid[i], step, 1e-9);
  }
  EXPECT_GE(grid.back(), 1.0);
  EXPECT_LT(grid.back() - step, 1.0);
  EXPECT_NEAR(static_cast<double>(grid.size()), 121.0, 1.0);
  // T comes from the negative side; K stays at 100 for small ranges.
  std::vector<double> small = CandidateThresholds(3.0, -8.0, 0.1);
  EXPECT_DOUBLE_EQ(small.front(), 8.0);
  EXPECT_NEAR(small[0] - small[1], 7.9 / 100.0, 1e-12);
  EXPECT_TRUE(CandidateThresholds(0.5, -0.5, 1.0).empty());
  // max_candidates caps K = 6000 at 200 (same endpoints, coarser step).
  std::vector<double> capped = CandidateThresholds(3000.0, -1.0, 0.1, 200);
  EXPECT_DOUBLE_EQ(capped.front(), 3000.0);
  EXPECT_NEAR(capped[0] - capped[1], 2999.9 / 200.0, 1e-9);
  EXPECT_NEAR(static_cast<double>(capped.size()), 201.0, 1.0);
  EXPECT_EQ(CandidateThresholds(3000.0, -1.0, 0.1, 0).size(),
            CandidateThresholds(3000.0, -1.0, 0.1).size());
}

TEST(OutlierScaleTest, SqueezesOnlyChannelsBeyondTheThreshold) {
  at::Tensor lo = at::tensor({-1.0f, -30.0f, -2.0f, -0.5f});
  at::Tensor hi = at::tensor({2.0f, 4.0f, 50.0f, 0.5f});
  at::Tensor s = OutlierScale(lo, hi, 10.0);
  EXPECT_TRUE(at::allclose(s, at::tensor({1.0f, 3.0f, 5.0f, 1.0f})));
}

struct Case {
  io::ModelConfig config;
  const char* site;
  const char* scheme;
};

// The statistics batch of block 0 at `site`, with one outlier channel.
at::Tensor SiteActivation(const model::Model& model, const model::Block& block,
                          const char* site, int64_t outlier_channel) {
  at::Generator generator = at::detail::createCPUGenerator(17);
  const int64_t channels =
      block.linear(block.Site(site).consumers.front()).in_features();
  at::Tensor x = at::randn({2, 12, channels}, generator);
  x.select(2, outlier_channel).mul_(40.0);
  return x;
}

ThresholdSearchInput MakeInput(const model::Block& block, const char* site,
                               const at::Tensor& x, const char* scheme,
                               ContextCache& contexts) {
  quant::QuantScheme parsed = quant::ParseScheme(scheme);
  ThresholdSearchInput input;
  input.block = &block;
  input.site = &block.Site(site);
  input.activation = x;
  input.consumers = block.Consumers(site);
  input.weight = parsed.weight;
  input.activation_quant = parsed.activation;
  input.lower_bound = 0.1;
  input.search_tokens = 16;
  input.candidates_per_batch = 7;
  input.contexts = &contexts;
  return input;
}

TEST(ThresholdSearchTest, StackedCandidatesEqualOneAtATime) {
  const Case cases[] = {
      {model::testing::TinyOptConfig(true), "mlp_in", "w4a4-pt"},
      {model::testing::TinyOptConfig(true), "attn_in", "w8a8-pt"},
      {model::testing::TinyLlamaConfig(), "mlp_in", "w4a4"},
      {model::testing::TinyLlamaConfig(), "attn_in", "w6a6"},
      {model::testing::TinyLlamaConfig(), "mlp_out_in", "w4a4-g16"},
      {model::testing::TinyBertConfig(), "attn_in", "w6a6-pt"},
  };
  for (const Case& c : cases) {
    auto model = TinyModel(c.config);
    auto block = model->LoadBlock(0);
    ContextCache contexts(*model, 12);
    at::Tensor x = SiteActivation(*model, *block, c.site, 3);
    ThresholdSearch search(MakeInput(*block, c.site, x, c.scheme, contexts));
    std::vector<double> some(search.thresholds().begin(),
                             search.thresholds().begin() + 9);
    std::vector<double> stacked = search.Losses(some, 4);
    ASSERT_EQ(stacked.size(), some.size());
    for (size_t i = 0; i < some.size(); ++i) {
      const double direct = search.DirectLoss(some[i]);
      EXPECT_NEAR(stacked[i], direct, 1e-4 * std::max(1.0, direct))
          << c.site << " " << c.scheme << " t=" << some[i];
    }
  }
}

TEST(ThresholdSearchTest, SqueezesAKnownOutlierChannel) {
  auto model = TinyModel(model::testing::TinyOptConfig(true));
  auto block = model->LoadBlock(0);
  ContextCache contexts(*model, 12);
  at::Tensor x = SiteActivation(*model, *block, "mlp_in", 5);
  ThresholdSearchInput input =
      MakeInput(*block, "mlp_in", x, "w4a4-pt", contexts);
  input.lower_bound = 1.0;
  ThresholdSearch search(input);
  // T is the outlier's magnitude; the grid starts there.
  const at::Tensor flat = x.reshape({-1, x.size(2)});
  const double t_max = flat.abs().max().item<double>();
  EXPECT_NEAR(search.thresholds().front(), t_max, 1e-5 * t_max);
  ThresholdChoice choice = search.Run();
  // The choice is the first strict minimum of the losses, and s = s(t*).
  std::vector<double> losses = search.Losses(search.thresholds(), 1);
  size_t best = 0;
  for (size_t i = 1; i < losses.size(); ++i) {
    if (losses[i] < losses[best]) best = i;
  }
  EXPECT_DOUBLE_EQ(choice.threshold, search.thresholds()[best]);
  EXPECT_TRUE(at::equal(choice.scale,
                        OutlierScale(search.channel_min(), search.channel_max(),
                                     choice.threshold)));
  EXPECT_LT(choice.threshold, 0.5 * t_max);
  EXPECT_GT(choice.scale[5].item<double>(), 2.0);
  EXPECT_LT(choice.loss_after, 0.9 * choice.loss_before);
  EXPECT_DOUBLE_EQ(choice.loss_before, losses.front());
}

// Runs `check` on a w6a6 search input of each LLaMA site of block 0.
void ForEachLlamaSite(
    const std::function<void(const char*, ThresholdSearchInput)>& check) {
  auto model = TinyModel(model::testing::TinyLlamaConfig());
  auto block = model->LoadBlock(0);
  ContextCache contexts(*model, 12);
  for (const char* site : {"attn_in", "mlp_in", "mlp_out_in"}) {
    at::Tensor x = SiteActivation(*model, *block, site, 3);
    check(site, MakeInput(*block, site, x, "w6a6", contexts));
  }
}

TEST(ThresholdSearchTest, ZeroSearchTokensTakesEveryToken) {
  ForEachLlamaSite([](const char* site, ThresholdSearchInput input) {
    input.search_tokens = 0;
    ThresholdSearch search(input);
    EXPECT_TRUE(at::equal(search.sample_index(), at::arange(24, at::kLong)))
        << site;
    // The curve the choice was made on comes with it.
    ThresholdChoice choice = search.Run();
    ASSERT_EQ(choice.losses.size(), search.thresholds().size()) << site;
    EXPECT_DOUBLE_EQ(choice.losses.front(), choice.loss_before) << site;
  });
}

TEST(ThresholdSearchTest, SubsampleDoesNotAliasWithTheWindows) {
  // 8 windows of 16 tokens, 32 sampled: an evenly spaced sample (stride 4,
  // which divides 16) would take every window's first token.
  auto model = TinyModel(model::testing::TinyLlamaConfig());
  auto block = model->LoadBlock(0);
  ContextCache contexts(*model, 16);
  const int64_t channels = block->linear("mlp.down_proj").in_features();
  at::Tensor x = at::randn({8, 16, channels});
  ThresholdSearchInput input =
      MakeInput(*block, "mlp_out_in", x, "w6a6", contexts);
  input.search_tokens = 32;
  const at::Tensor index = ThresholdSearch(input).sample_index();
  ASSERT_EQ(index.size(0), 32);
  EXPECT_TRUE(at::equal(std::get<0>(index.sort()), index));
  EXPECT_EQ(std::get<0>(at::_unique(index)).size(0), 32);
  const int64_t starts = (index.remainder(16) == 0).sum().item<int64_t>();
  EXPECT_LT(starts, 8);
  // A fixed draw: the same tokens every time.
  EXPECT_TRUE(at::equal(ThresholdSearch(input).sample_index(), index));
}

TEST(ThresholdSearchTest, CoarseToFineEvaluatesFewCandidatesOfTheSameCurve) {
  ForEachLlamaSite([](const char* site, ThresholdSearchInput input) {
    const ThresholdChoice full = ThresholdSearch(input).Run();
    input.coarse_to_fine = 4;
    ThresholdSearch search(input);
    const ThresholdChoice fast = search.Run();
    const std::vector<double>& grid = search.thresholds();
    ASSERT_EQ(fast.losses.size(), grid.size()) << site;
    // Evaluated entries are the exhaustive curve's, the others NaN.
    int64_t evaluated = 0;
    for (size_t i = 0; i < grid.size(); ++i) {
      if (std::isnan(fast.losses[i])) continue;
      ++evaluated;
      EXPECT_NEAR(fast.losses[i], full.losses[i], 1e-6 * full.losses[i])
          << site << " candidate " << i;
    }
    EXPECT_EQ(fast.candidates, evaluated) << site;
    EXPECT_LT(evaluated, static_cast<int64_t>(grid.size()) / 3) << site;
    EXPECT_FALSE(std::isnan(fast.losses.front())) << site;
    EXPECT_FALSE(std::isnan(fast.losses.back())) << site;
    // The choice is the least evaluated loss, and a local minimum of the
    // grid: both neighbours were evaluated and are not lower.
    const size_t chosen = static_cast<size_t>(
        std::find(grid.begin(), grid.end(), fast.threshold) - grid.begin());
    ASSERT_LT(chosen, grid.size()) << site;
    for (double loss : fast.losses) {
      if (!std::isnan(loss)) {
        EXPECT_GE(loss, fast.loss_after) << site;
      }
    }
    for (size_t neighbour : {chosen - 1, chosen + 1}) {
      if (neighbour < grid.size()) {
        EXPECT_FALSE(std::isnan(fast.losses[neighbour])) << site;
      }
    }
    EXPECT_GE(fast.loss_after, full.loss_after * (1 - 1e-6)) << site;
    EXPECT_TRUE(at::equal(
        fast.scale, OutlierScale(search.channel_min(), search.channel_max(),
                                 fast.threshold)));
  });
}

TEST(ThresholdSearchTest, ActivationWithinTheLowerBoundIsNotScaled) {
  auto model = TinyModel(model::testing::TinyOptConfig(true));
  auto block = model->LoadBlock(0);
  ContextCache contexts(*model, 12);
  at::Tensor x = at::rand({2, 12, 32}) * 0.5 - 0.25;
  ThresholdSearchInput input =
      MakeInput(*block, "mlp_in", x, "w8a8-pt", contexts);
  input.lower_bound = 1.0;
  ThresholdChoice choice = ThresholdSearch(input).Run();
  EXPECT_TRUE(at::equal(choice.scale, at::ones({32})));
  EXPECT_EQ(choice.candidates, 0);
}

}  // namespace
}  // namespace quantd::engine::methods
