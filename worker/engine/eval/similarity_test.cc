// Embedding similarity on a tiny random BERT: batching with padding gives
// each sentence the embedding it has alone; cosine arithmetic and errors.
#include "worker/engine/eval/similarity.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "worker/engine/eval/eval_error.h"
#include "worker/engine/model/model_factory.h"
#include "worker/engine/model/test_models.h"

namespace quantd::engine::eval {
namespace {

std::vector<std::vector<int32_t>> Sentences() {
  return {{2, 5, 9, 3}, {2, 7, 3}, {2, 11, 12, 13, 14, 15, 3}, {2, 3}};
}

TEST(SimilarityTest, BatchedEmbeddingsEqualSingleSentenceEmbeddings) {
  auto model = model::MakeModel(
      model::testing::TinyBertConfig(),
      model::testing::RandomWeights(model::testing::TinyBertConfig()), {});
  EmbeddingOptions batched;
  batched.batch_size = 3;
  EmbeddingOptions single;
  single.batch_size = 1;
  at::Tensor a = EmbedTokenIds(*model, Sentences(), 0, batched);
  at::Tensor b = EmbedTokenIds(*model, Sentences(), 0, single);
  EXPECT_EQ(a.sizes(), at::IntArrayRef({4, 32}));
  EXPECT_TRUE(at::allclose(a, b, 1e-5, 1e-5));
  SimilarityResult same = CompareEmbeddings(a, b);
  EXPECT_EQ(same.count, 4);
  EXPECT_NEAR(same.min_cosine, 1.0, 1e-6);
}

TEST(SimilarityTest, CosineOfKnownVectors) {
  at::Tensor a = at::tensor({1.0f, 0.0f, 2.0f, 2.0f}).view({2, 2});
  at::Tensor b = at::tensor({0.0f, 3.0f, 1.0f, 1.0f}).view({2, 2});
  SimilarityResult result = CompareEmbeddings(a, b);
  ASSERT_EQ(result.cosines.size(), 2u);
  EXPECT_NEAR(result.cosines[0], 0.0, 1e-12);
  EXPECT_NEAR(result.cosines[1], 1.0, 1e-12);
  EXPECT_NEAR(result.mean_cosine, 0.5, 1e-12);
  EXPECT_NEAR(result.min_cosine, 0.0, 1e-12);
  EXPECT_THROW(CompareEmbeddings(a, b.view({4})), EvalError);
}

TEST(SimilarityTest, RejectsDecodersAndEmptySentences) {
  auto llama = model::MakeModel(
      model::testing::TinyLlamaConfig(),
      model::testing::RandomWeights(model::testing::TinyLlamaConfig()), {});
  EXPECT_THROW(EmbedTokenIds(*llama, Sentences(), 0, {}), EvalError);
  auto bert = model::MakeModel(
      model::testing::TinyBertConfig(),
      model::testing::RandomWeights(model::testing::TinyBertConfig()), {});
  EXPECT_THROW(EmbedTokenIds(*bert, {{2, 3}, {}}, 0, {}), EvalError);
  EmbeddingOptions bad;
  bad.max_tokens = 1;
  EXPECT_THROW(EmbedTokenIds(*bert, Sentences(), 0, bad), EvalError);
}

}  // namespace
}  // namespace quantd::engine::eval
