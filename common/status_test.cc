#include "common/status.h"

#include "gtest/gtest.h"

namespace quantd {
namespace {

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return InvalidFieldError("x", "must be even");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  QUANTD_ASSIGN_OR_RETURN(int half, Half(x));
  QUANTD_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

absl::Status CheckEven(int x) {
  QUANTD_RETURN_IF_ERROR(Half(x));
  return absl::OkStatus();
}

TEST(StatusTest, MacrosPropagateErrorsAndValues) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckEven(2).ok());
  EXPECT_FALSE(CheckEven(3).ok());
}

TEST(StatusTest, FieldOfErrorFindsTheField) {
  EXPECT_EQ(FieldOfError(InvalidFieldError("scheme.weights.bits", "too big")),
            "scheme.weights.bits");
  EXPECT_EQ(FieldOfError(absl::InvalidArgumentError("no field here")), "");
  EXPECT_EQ(FieldOfError(absl::NotFoundError("a: b")), "");
}

TEST(StatusTest, AnnotateKeepsTheCode) {
  absl::Status s = Annotate(absl::NotFoundError("job j-1"), "cancel");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "cancel: job j-1");
  EXPECT_TRUE(Annotate(absl::OkStatus(), "x").ok());
}

}  // namespace
}  // namespace quantd
