#include "client/quantctl/exit_codes.h"

#include <set>

#include "gtest/gtest.h"

namespace quantd::client {
namespace {

TEST(ExitCodesTest, MapsEveryCanonicalCodeToItsDocumentedExitCode) {
  EXPECT_EQ(ExitCodeForStatus(absl::OkStatus()), ExitCode::kSuccess);
  EXPECT_EQ(ExitCodeForStatus(absl::InvalidArgumentError("x")),
            ExitCode::kInvalidInput);
  EXPECT_EQ(ExitCodeForStatus(absl::OutOfRangeError("x")),
            ExitCode::kInvalidInput);
  EXPECT_EQ(ExitCodeForStatus(absl::UnavailableError("x")),
            ExitCode::kUnreachable);
  EXPECT_EQ(ExitCodeForStatus(absl::DeadlineExceededError("x")),
            ExitCode::kUnreachable);
  EXPECT_EQ(ExitCodeForStatus(absl::UnauthenticatedError("x")),
            ExitCode::kAuthFailed);
  EXPECT_EQ(ExitCodeForStatus(absl::PermissionDeniedError("x")),
            ExitCode::kAuthFailed);
  EXPECT_EQ(ExitCodeForStatus(absl::NotFoundError("x")), ExitCode::kNotFound);
  EXPECT_EQ(ExitCodeForStatus(absl::FailedPreconditionError("x")),
            ExitCode::kRejected);
  EXPECT_EQ(ExitCodeForStatus(absl::ResourceExhaustedError("x")),
            ExitCode::kRejected);
  EXPECT_EQ(ExitCodeForStatus(absl::DataLossError("x")), ExitCode::kIntegrity);
  EXPECT_EQ(ExitCodeForStatus(absl::InternalError("x")), ExitCode::kError);
  EXPECT_EQ(ExitCodeForStatus(absl::UnimplementedError("x")), ExitCode::kError);
}

TEST(ExitCodesTest, FinalJobStatesHaveDistinctCodes) {
  EXPECT_EQ(ExitCodeForJobState(quantd::v1::JOB_STATE_SUCCEEDED),
            ExitCode::kSuccess);
  EXPECT_EQ(ExitCodeForJobState(quantd::v1::JOB_STATE_FAILED),
            ExitCode::kJobFailed);
  EXPECT_EQ(ExitCodeForJobState(quantd::v1::JOB_STATE_CANCELLED),
            ExitCode::kJobCancelled);
  EXPECT_EQ(ExitCodeForJobState(quantd::v1::JOB_STATE_RUNNING),
            ExitCode::kError);
}

TEST(ExitCodesTest, CodesAreStableNumbersAndAllDocumented) {
  const std::set<int> codes = {
      ToInt(ExitCode::kSuccess),      ToInt(ExitCode::kError),
      ToInt(ExitCode::kInvalidInput), ToInt(ExitCode::kUnreachable),
      ToInt(ExitCode::kAuthFailed),   ToInt(ExitCode::kNotFound),
      ToInt(ExitCode::kJobFailed),    ToInt(ExitCode::kJobCancelled),
      ToInt(ExitCode::kRejected),     ToInt(ExitCode::kIntegrity)};
  EXPECT_EQ(codes, (std::set<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  const std::string help = ExitCodeHelp();
  for (int code : codes) {
    EXPECT_NE(help.find("  " + std::to_string(code) + "  "), std::string::npos)
        << code;
  }
}

}  // namespace
}  // namespace quantd::client
