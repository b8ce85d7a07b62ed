#include "client/quantctl/field_flags.h"

#include "gtest/gtest.h"

namespace quantd::client {
namespace {

TEST(FieldFlagsTest, MapsSpecFieldsToSubmitFlags) {
  EXPECT_EQ(FlagForField("scheme.weights.bits"), "--w-bits");
  EXPECT_EQ(FlagForField("scheme.activations.bits"), "--a-bits");
  EXPECT_EQ(FlagForField("scheme.weights.group_size"), "--group-size");
  EXPECT_EQ(FlagForField("scheme.preset"), "--scheme");
  EXPECT_EQ(FlagForField("calibration.n_samples"), "--samples");
  EXPECT_EQ(FlagForField("evaluation.seq_len"), "--eval-seq-len");
  EXPECT_EQ(FlagForField("model"), "MODEL");
  EXPECT_EQ(FlagForField("priority"), "--priority");
}

TEST(FieldFlagsTest, LongestPrefixWinsAndPrefixesAreStripped) {
  EXPECT_EQ(FlagForField("calibration.dataset.uri"), "--calib-data");
  EXPECT_EQ(FlagForField("spec.scheme.weights.bits"), "--w-bits");
  EXPECT_EQ(FlagForField("model.uri"), "MODEL");
  EXPECT_EQ(FlagForField("labels[team]"), "--label");
  EXPECT_EQ(FlagForField("method_params.alpha"), "--param alpha");
  EXPECT_EQ(FlagForField("method_params"), "--param");
  EXPECT_EQ(FlagForField("method_params.gptq.block_size"),
            "--param gptq.block_size");
  EXPECT_EQ(FlagForField("target.fallbacks[1].scheme.preset"), "--fallback");
  EXPECT_EQ(FlagForField("target.max_perplexity_increase"),
            "--max-ppl-increase");
}

TEST(FieldFlagsTest, UnknownFieldsAndLookalikesHaveNoFlag) {
  EXPECT_EQ(FlagForField("page_token"), "");
  EXPECT_EQ(FlagForField("methodology"), "");
  EXPECT_EQ(FlagForField("schemes"), "");
}

TEST(FieldFlagsTest, RewritesServerErrorToNameTheFlag) {
  const absl::Status rewritten = PointAtFlag(absl::InvalidArgumentError(
      "scheme.weights.bits: must be in 2..8, got 12"));
  EXPECT_EQ(rewritten.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(rewritten.message(),
            "--w-bits: must be in 2..8, got 12 (scheme.weights.bits)");
  // Idempotent: the rewritten message names a flag, not a field.
  EXPECT_EQ(PointAtFlag(rewritten), rewritten);
}

TEST(FieldFlagsTest, LeavesOtherErrorsAlone) {
  const absl::Status not_found = absl::NotFoundError("model: no such job");
  EXPECT_EQ(PointAtFlag(not_found), not_found);
  const absl::Status prose =
      absl::InvalidArgumentError("bad request: something odd");
  EXPECT_EQ(PointAtFlag(prose), prose);
  const absl::Status unmapped =
      absl::InvalidArgumentError("page_token: malformed");
  EXPECT_EQ(PointAtFlag(unmapped), unmapped);
}

}  // namespace
}  // namespace quantd::client
