// The perplexity protocol on a tiny random LLaMA: windowing, the budget,
// batching and head chunking leave the numbers alone, and the result equals
// a direct computation from full-model logits.
#include "worker/engine/eval/perplexity.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "worker/engine/eval/eval_error.h"
#include "worker/engine/model/model_factory.h"
#include "worker/engine/model/test_models.h"

namespace quantd::engine::eval {
namespace {

using ::testing::HasSubstr;

class PerplexityTest : public ::testing::Test {
 protected:
  PerplexityTest()
      : model_(model::MakeModel(
            model::testing::TinyLlamaConfig(),
            model::testing::RandomWeights(model::testing::TinyLlamaConfig()),
            {})) {
    at::Tensor ids =
        at::randint(64, {5 * 8 + 3}, at::detail::createCPUGenerator(4));
    for (int64_t i = 0; i < ids.size(0); ++i) {
      tokens_.push_back(static_cast<int32_t>(ids[i].item<int64_t>()));
    }
  }

  PerplexityOptions Options(int64_t batch_size = 1) const {
    PerplexityOptions options;
    options.seq_len = 8;
    options.batch_size = batch_size;
    return options;
  }

  std::unique_ptr<model::Model> model_;
  std::vector<int32_t> tokens_;
};

TEST_F(PerplexityTest, MatchesADirectComputationFromFullLogits) {
  PerplexityResult result = EvaluatePerplexity(*model_, tokens_, Options(2));
  EXPECT_EQ(result.windows, 5);
  EXPECT_EQ(result.tokens, 40);
  EXPECT_EQ(result.targets, 35);
  EXPECT_EQ(result.text_tokens, 43);
  double nll_times_length = 0.0;
  for (int64_t w = 0; w < 5; ++w) {
    at::Tensor ids = at::empty({1, 8}, at::kLong);
    for (int64_t t = 0; t < 8; ++t) ids[0][t] = tokens_[w * 8 + t];
    at::Tensor logits = model_->Forward(ids)[0].to(at::kDouble);
    at::Tensor log_probs = at::log_softmax(logits, -1);
    double loss = 0.0;
    for (int64_t t = 0; t < 7; ++t) {
      loss -= log_probs[t][tokens_[w * 8 + t + 1]].item<double>();
    }
    loss /= 7.0;
    EXPECT_NEAR(result.window_losses[w], loss, 1e-5) << "window " << w;
    nll_times_length += loss * 8.0;
  }
  EXPECT_NEAR(result.ppl, std::exp(nll_times_length / 40.0), 1e-5 * result.ppl);
  EXPECT_NEAR(result.token_ppl, result.ppl, 1e-9 * result.ppl);
}

TEST_F(PerplexityTest, BatchingAndHeadChunksDoNotChangeTheResult) {
  PerplexityResult one = EvaluatePerplexity(*model_, tokens_, Options(1));
  PerplexityOptions options = Options(3);
  options.head_chunk_tokens = 5;
  options.resident_hidden_bytes = 0;
  PerplexityResult chunked = EvaluatePerplexity(*model_, tokens_, options);
  ASSERT_EQ(chunked.window_losses.size(), one.window_losses.size());
  for (size_t i = 0; i < one.window_losses.size(); ++i) {
    EXPECT_NEAR(chunked.window_losses[i], one.window_losses[i], 1e-5);
  }
}

TEST_F(PerplexityTest, TokenBudgetKeepsWholeWindowsFromTheStart) {
  PerplexityResult all = EvaluatePerplexity(*model_, tokens_, Options());
  PerplexityOptions options = Options();
  options.max_tokens = 23;  // Two whole windows.
  PerplexityResult budget = EvaluatePerplexity(*model_, tokens_, options);
  EXPECT_EQ(budget.windows, 2);
  EXPECT_EQ(budget.tokens, 16);
  EXPECT_DOUBLE_EQ(budget.window_losses[1], all.window_losses[1]);
  EXPECT_NE(budget.ppl, all.ppl);
}

TEST_F(PerplexityTest, EachBlockLoadsOncePerGroupOfWindows) {
  auto blocks_seen = [&](const PerplexityOptions& options) {
    std::vector<int64_t> seen;
    EvaluatePerplexity(*model_, tokens_, options, [&](model::Block& block) {
      seen.push_back(block.index());
    });
    return seen;
  };
  // 5 windows of 8 tokens × 32 channels × 4 bytes = 1 KiB each.
  PerplexityOptions options = Options(2);
  EXPECT_EQ(blocks_seen(options), (std::vector<int64_t>{0, 1}));
  options.resident_hidden_bytes = 4096;  // Groups of two batches.
  EXPECT_EQ(blocks_seen(options), (std::vector<int64_t>{0, 1, 0, 1}));
  options.resident_hidden_bytes = 0;  // One batch per group.
  EXPECT_EQ(blocks_seen(options), (std::vector<int64_t>{0, 1, 0, 1, 0, 1}));
}

TEST_F(PerplexityTest, ReportsProgressPerGroup) {
  std::vector<int64_t> done;
  PerplexityOptions options = Options(2);
  options.resident_hidden_bytes = 0;
  EvaluatePerplexity(*model_, tokens_, options, {},
                     [&](int64_t finished, int64_t total) {
                       EXPECT_EQ(total, 5);
                       done.push_back(finished);
                     });
  EXPECT_EQ(done, (std::vector<int64_t>{2, 4, 5}));
}

TEST_F(PerplexityTest, RejectsBadOptionsAndShortTexts) {
  auto error_of = [&](PerplexityOptions options) -> std::string {
    try {
      EvaluatePerplexity(*model_, tokens_, options);
    } catch (const EvalError& error) {
      return error.what();
    }
    return "no error";
  };
  PerplexityOptions options = Options();
  options.seq_len = 1;
  EXPECT_THAT(error_of(options), HasSubstr("seq_len must be at least 2"));
  options = Options();
  options.seq_len = 44;
  EXPECT_THAT(error_of(options), HasSubstr("the text has 43 tokens"));
  options = Options();
  options.max_tokens = 7;
  EXPECT_THAT(error_of(options), HasSubstr("max_tokens must be 0"));
  options = Options();
  options.batch_size = 0;
  EXPECT_THAT(error_of(options), HasSubstr("batch_size must be at least 1"));
}

TEST_F(PerplexityTest, RejectsEncoders) {
  auto bert = model::MakeModel(
      model::testing::TinyBertConfig(),
      model::testing::RandomWeights(model::testing::TinyBertConfig()), {});
  EXPECT_THROW(EvaluatePerplexity(*bert, tokens_, Options()), EvalError);
}

TEST(ReadTextTest, NormalisesLineEndings) {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / "quantd_read_text_test.txt";
  {
    std::ofstream file(path, std::ios::binary);
    file << "a\r\nb\rc\n\r\n";
  }
  EXPECT_EQ(ReadText(path), "a\nb\nc\n\n");
  std::filesystem::remove(path);
  try {
    ReadText(path);
    FAIL() << "expected EvalError";
  } catch (const EvalError& error) {
    EXPECT_THAT(error.what(), HasSubstr("quantd_read_text_test.txt"));
  }
}

}  // namespace
}  // namespace quantd::engine::eval
