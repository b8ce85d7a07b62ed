#include "worker/agent/job_outcome.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::agent {
namespace {

using ::testing::HasSubstr;

ExitStatus Exited(int code) { return ExitStatus{.code = code}; }
ExitStatus Killed(int signal) {
  return ExitStatus{.signaled = true, .signal = signal};
}

EngineReport Succeeded() {
  EngineReport report;
  report.result.emplace();
  report.result->set_metric("perplexity");
  report.result->set_quantized_value(11.25);
  quantd::v1::Artifact artifact;
  artifact.set_name("report.json");
  report.artifacts.push_back(artifact);
  return report;
}

TEST(JobOutcomeTest, SuccessCarriesTheResultAndArtifacts) {
  const auto request = CompletionFor(Exited(0), Succeeded(), "");
  EXPECT_EQ(request.state(), quantd::v1::JOB_STATE_SUCCEEDED);
  EXPECT_DOUBLE_EQ(request.result().quantized_value(), 11.25);
  ASSERT_EQ(request.result().artifacts_size(), 1);
  EXPECT_EQ(request.result().artifacts(0).name(), "report.json");
  EXPECT_EQ(request.exit_status(), 0);
  EXPECT_FALSE(request.has_error());
}

TEST(JobOutcomeTest, EngineErrorEventWinsAndGetsDetails) {
  EngineReport report;
  report.error.emplace();
  report.error->set_code(3);
  report.error->set_message("bits must be 2..8");
  report.error->set_field("scheme.weights.bits");
  const auto request = CompletionFor(Exited(2), report, "line one\nline two");
  EXPECT_EQ(request.state(), quantd::v1::JOB_STATE_FAILED);
  EXPECT_EQ(request.error().code(), 3);
  EXPECT_EQ(request.error().field(), "scheme.weights.bits");
  EXPECT_THAT(request.error().message(), HasSubstr("bits must be 2..8"));
  EXPECT_THAT(request.error().message(), HasSubstr("exit status 2"));
  EXPECT_THAT(request.error().message(), HasSubstr("line one\nline two"));
  EXPECT_EQ(request.exit_status(), 2);
}

TEST(JobOutcomeTest, AMissedTargetFailsWithEveryAttemptInTheResult) {
  EngineReport report = Succeeded();
  report.artifacts.clear();
  quantd::v1::Attempt* attempt = report.result->add_attempts();
  attempt->set_method("rtn");
  attempt->set_quantized_value(31.2);
  report.error.emplace();
  report.error->set_code(9);  // FAILED_PRECONDITION
  report.error->set_message("no attempt met the target: rtn w8a8 31.2");
  report.error->set_field("target");
  const auto request = CompletionFor(Exited(5), report, "");
  EXPECT_EQ(request.state(), quantd::v1::JOB_STATE_FAILED);
  EXPECT_EQ(request.error().code(), 9);
  EXPECT_EQ(request.error().field(), "target");
  ASSERT_EQ(request.result().attempts_size(), 1);
  EXPECT_EQ(request.result().attempts(0).method(), "rtn");
  EXPECT_EQ(request.result().artifacts_size(), 0);
}

TEST(JobOutcomeTest, ExitStatusGivesTheCodeWhenTheEngineSaidNothing) {
  EXPECT_EQ(CompletionFor(Exited(2), {}, "").error().code(), 3);
  EXPECT_EQ(CompletionFor(Exited(4), {}, "").error().code(), 8);
  EXPECT_EQ(CompletionFor(Exited(3), {}, "").error().code(), 13);
  const auto crashed = CompletionFor(Killed(11), {}, "Segmentation fault");
  EXPECT_EQ(crashed.state(), quantd::v1::JOB_STATE_FAILED);
  EXPECT_EQ(crashed.error().code(), 13);
  EXPECT_EQ(crashed.exit_status(), 139);
  EXPECT_THAT(crashed.error().message(), HasSubstr("killed by signal 11"));
  EXPECT_THAT(crashed.error().message(), HasSubstr("Segmentation fault"));
}

TEST(JobOutcomeTest, ExitZeroWithoutAResultIsAFailure) {
  const auto request = CompletionFor(Exited(0), {}, "");
  EXPECT_EQ(request.state(), quantd::v1::JOB_STATE_FAILED);
  EXPECT_EQ(request.error().code(), 13);
  EXPECT_THAT(request.error().message(), HasSubstr("without a result"));
}

TEST(JobOutcomeTest, AFailedUploadFailsAFinishedJob) {
  EngineReport report = Succeeded();
  report.upload_error = absl::UnavailableError("model.st: scheduler down");
  const auto request = CompletionFor(Exited(0), report, "");
  EXPECT_EQ(request.state(), quantd::v1::JOB_STATE_FAILED);
  EXPECT_EQ(request.error().code(), 14);
  EXPECT_THAT(request.error().message(), HasSubstr("scheduler down"));
}

TEST(JobOutcomeTest, DescribesExitStatuses) {
  EXPECT_EQ(Exited(3).Describe(), "exit status 3");
  EXPECT_THAT(Killed(9).Describe(), HasSubstr("killed by signal 9"));
  EXPECT_EQ(Killed(15).AsInt(), 143);
  EXPECT_TRUE(Exited(0).Succeeded());
  EXPECT_FALSE(Killed(0).Succeeded());
}

}  // namespace
}  // namespace quantd::agent
