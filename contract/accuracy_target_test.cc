#include "contract/accuracy_target.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "contract/contract_error.h"

namespace quantd::contract {
namespace {

std::string Refusal(TargetBound bound, size_t fallbacks = 1,
                    bool encoder = false, bool skipped = false) {
  try {
    CheckTarget(bound, fallbacks, encoder, skipped);
  } catch (const ContractError& error) {
    return error.field() + " | " + error.what();
  }
  return "no error";
}

TEST(AccuracyTargetTest, OneBoundByTheModelsMetric) {
  EXPECT_EQ(Refusal({0.02, 0.0}), "no error");
  EXPECT_EQ(Refusal({0.0, 0.99}, 1, true), "no error");
  EXPECT_EQ(Refusal({0.0, 0.0}),
            "target.max_perplexity_increase | must be in (0, 10], got 0");
  EXPECT_EQ(Refusal({-0.1, 0.0}),
            "target.max_perplexity_increase | must be in (0, 10], got -0.1");
  EXPECT_EQ(Refusal({std::nan(""), 0.0}),
            "target.max_perplexity_increase | must be in (0, 10], got nan");
  EXPECT_EQ(Refusal({0.0, 1.5}, 1, true),
            "target.min_cosine | must be in (0, 1], got 1.5");
  EXPECT_EQ(Refusal({0.02, 0.99}),
            "target.min_cosine | this model is measured by perplexity; set "
            "target.max_perplexity_increase instead");
  EXPECT_EQ(Refusal({0.02, 0.0}, 1, true),
            "target.max_perplexity_increase | this model is measured by "
            "cosine; set target.min_cosine instead");
  EXPECT_EQ(Refusal({0.02, 0.0}, 9), "target.fallbacks | at most 8, got 9");
  EXPECT_EQ(Refusal({0.02, 0.0}, 1, false, true),
            "evaluation.skip | a job with a target needs its evaluation");
}

TEST(AccuracyTargetTest, MeetsTheBoundInclusively) {
  EXPECT_TRUE(MeetsTarget({0.02, 0.0}, 30.0, 30.6));
  EXPECT_FALSE(MeetsTarget({0.02, 0.0}, 30.0, 30.61));
  EXPECT_FALSE(MeetsTarget({0.02, 0.0}, 30.0, std::nan("")));
  EXPECT_TRUE(MeetsTarget({0.0, 0.99}, 1.0, 0.995));
  EXPECT_FALSE(MeetsTarget({0.0, 0.99}, 1.0, 0.98));
  EXPECT_FALSE(MeetsTarget({0.0, 0.99}, 1.0, std::nan("")));
  EXPECT_EQ(FallbackField(2), "target.fallbacks[2]");
}

}  // namespace
}  // namespace quantd::contract
