#include "worker/engine/quant/granularity.h"

#include <gtest/gtest.h>

#include <vector>

#include "worker/engine/quant/errors.h"
#include "worker/engine/quant/quant_test_util.h"

namespace quantd::engine::quant {
namespace {

using testing::Floats;
using testing::Values;

TEST(GranularityTest, RowViewShapes) {
  const at::Tensor x = at::arange(48, at::kFloat).reshape({2, 3, 8});
  EXPECT_EQ(RowView(x, Granularity::kPerTensor, 0).sizes(),
            (std::vector<int64_t>{1, 48}));
  EXPECT_EQ(RowView(x, Granularity::kPerChannel, 0).sizes(),
            (std::vector<int64_t>{2, 24}));
  EXPECT_EQ(RowView(x, Granularity::kPerToken, 0).sizes(),
            (std::vector<int64_t>{6, 8}));
  EXPECT_EQ(RowView(x, Granularity::kPerGroup, 4).sizes(),
            (std::vector<int64_t>{12, 4}));
  // Group 1 is the second half of the first token.
  EXPECT_EQ(Values(RowView(x, Granularity::kPerGroup, 4)[1]),
            (std::vector<float>{4, 5, 6, 7}));
  EXPECT_EQ(RowCount(x, Granularity::kPerGroup, 8), 6);
}

TEST(GranularityTest, RowViewRejectsImpossibleViews) {
  EXPECT_THROW(RowView(at::zeros({2, 6}), Granularity::kPerGroup, 4),
               QuantError);
  EXPECT_THROW(RowView(at::zeros({2, 6}), Granularity::kPerGroup, 0),
               QuantError);
  EXPECT_THROW(RowView(at::scalar_tensor(1.0), Granularity::kPerToken, 0),
               QuantError);
  EXPECT_EQ(RowView(at::scalar_tensor(1.0), Granularity::kPerTensor, 0).numel(),
            1);
}

TEST(GranularityTest, RowMinMaxPerTensorIsZeroDim) {
  const MinMaxRange range = RowMinMax(Floats({3.0f, -2.0f, 5.0f, 0.5f}, {2, 2}),
                                      Granularity::kPerTensor, 0);
  EXPECT_EQ(range.min.dim(), 0);
  EXPECT_EQ(range.min.item<float>(), -2.0f);
  EXPECT_EQ(range.max.item<float>(), 5.0f);
}

TEST(GranularityTest, RowMinMaxPerRow) {
  const MinMaxRange range = RowMinMax(Floats({3.0f, -2.0f, 5.0f, 0.5f}, {2, 2}),
                                      Granularity::kPerChannel, 0);
  EXPECT_EQ(Values(range.min), (std::vector<float>{-2.0f, 0.5f}));
  EXPECT_EQ(Values(range.max), (std::vector<float>{3.0f, 5.0f}));
  EXPECT_THROW(RowMinMax(at::zeros({0, 3}), Granularity::kPerTensor, 0),
               QuantError);
}

TEST(GranularityTest, SelectTokensDropsPadding) {
  const at::Tensor x = at::arange(12, at::kFloat).reshape({2, 3, 2});
  const at::Tensor mask = at::tensor(std::vector<int64_t>{1, 0, 1, 1, 1, 0})
                              .to(at::kBool)
                              .reshape({2, 3});
  const at::Tensor kept = SelectTokens(x, mask);
  EXPECT_EQ(kept.sizes(), (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(Values(kept), (std::vector<float>{0, 1, 4, 5, 6, 7, 8, 9}));
  EXPECT_THROW(SelectTokens(x, mask.reshape({-1}).slice(0, 0, 5)), QuantError);
  EXPECT_THROW(SelectTokens(x, mask.to(at::kFloat)), QuantError);
}

}  // namespace
}  // namespace quantd::engine::quant
