// Tests of the human views: result_table.h, job_view.h, workers table.
#include "client/quantctl/result_table.h"

#include "client/quantctl/job_view.h"
#include "client/quantctl/workers_command.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

quantd::v1::JobResult Result() {
  quantd::v1::JobResult result;
  result.set_metric("perplexity");
  result.set_fp_value(16.0);
  result.set_quantized_value(16.4);
  result.set_eval_tokens(65536);
  result.set_eval_seq_len(2048);
  result.set_wall_seconds(83);
  result.set_peak_host_memory_bytes(3ull << 30);
  result.set_peak_device_memory_bytes(512ull << 20);
  auto* artifact = result.add_artifacts();
  artifact->set_name("model/model.safetensors");
  artifact->set_kind("model");
  artifact->set_size_bytes(270ull << 20);
  artifact->set_blob("sha256:00ff");
  return result;
}

TEST(ResultTableTest, ShowsMetricDeltaTimeMemoryAndArtifacts) {
  const std::string text = RenderResult(Result());
  EXPECT_THAT(text, HasSubstr("METRIC           FP  QUANTIZED    DELTA  "
                              "DELTA %\n"
                              "perplexity  16.0000    16.4000  +0.4000   "
                              "+2.50%\n"));
  EXPECT_THAT(text, HasSubstr("Evaluated on 65536 tokens, windows of 2048"));
  EXPECT_THAT(text, HasSubstr("Time: 1m23s"));
  EXPECT_THAT(text, HasSubstr("Peak host memory: 3.0 GiB"));
  EXPECT_THAT(text, HasSubstr("Peak device memory: 512.0 MiB"));
  EXPECT_THAT(text, HasSubstr("model/model.safetensors  model  270.0 MiB  "
                              "sha256:00ff"));
}

TEST(ResultTableTest, FailedOutcomeShowsTheErrorAndItsField) {
  quantd::v1::Job job;
  job.set_id("j-9");
  job.set_state(quantd::v1::JOB_STATE_FAILED);
  job.set_attempt(3);
  job.mutable_spec()->set_method("rtn");
  job.mutable_spec()->mutable_scheme()->set_preset("w4a16");
  job.mutable_error()->set_code(3);
  job.mutable_error()->set_message("group size 100 does not divide 576");
  job.mutable_error()->set_field("scheme.weights.group_size");
  const std::string text = RenderOutcome(job);
  EXPECT_THAT(text, HasSubstr("Job j-9 FAILED (rtn w4a16, attempt 3)"));
  EXPECT_THAT(text, HasSubstr("Error: INVALID_ARGUMENT: group size 100"));
  EXPECT_THAT(text, HasSubstr("(field scheme.weights.group_size)"));
  EXPECT_THAT(text, Not(HasSubstr("METRIC")));
}

TEST(ResultTableTest, AMissedTargetShowsEveryAttempt) {
  quantd::v1::Job job;
  job.set_id("j-7");
  job.set_state(quantd::v1::JOB_STATE_FAILED);
  job.set_attempt(1);
  job.mutable_spec()->set_method("rtn");
  job.mutable_spec()->mutable_scheme()->set_preset("w8a8");
  quantd::v1::JobResult& result = *job.mutable_result();
  result.set_metric("perplexity");
  result.set_fp_value(30.0);
  for (const auto& [method, value] :
       {std::pair{"rtn", 31.2}, std::pair{"smoothquant", 30.9}}) {
    quantd::v1::Attempt* attempt = result.add_attempts();
    attempt->set_method(method);
    attempt->set_scheme("w8a8");
    attempt->set_quantized_value(value);
    attempt->set_wall_seconds(65);
  }
  job.mutable_error()->set_code(9);
  job.mutable_error()->set_message("no attempt met the target");
  job.mutable_error()->set_field("target");
  const std::string text = RenderOutcome(job);
  EXPECT_THAT(text, HasSubstr("ATTEMPT  METHOD       SCHEME  PERPLEXITY  "
                              "DELTA %   TIME  TARGET\n"
                              "      1  rtn          w8a8       31.2000   "
                              "+4.00%  1m05s  missed\n"
                              "      2  smoothquant  w8a8       30.9000   "
                              "+3.00%  1m05s  missed\n"));
  EXPECT_THAT(text, HasSubstr("Error: FAILED_PRECONDITION: no attempt met "
                              "the target (field target)"));
}

TEST(JobViewTest, ListShowsActivityPerState) {
  quantd::v1::Job running;
  running.set_id("j-1");
  running.set_state(quantd::v1::JOB_STATE_RUNNING);
  running.mutable_spec()->mutable_model()->set_uri("file:///m/a/smol.gguf");
  running.mutable_progress()->set_stage("quantize");
  running.mutable_progress()->set_block_index(11);
  running.mutable_progress()->set_block_count(30);
  running.mutable_progress()->set_fraction(0.4);
  EXPECT_EQ(JobActivity(running), "quantize 12/30 40%");
  EXPECT_EQ(ShortDataRef(running.spec().model()), "smol.gguf");
  quantd::v1::Job done;
  done.set_state(quantd::v1::JOB_STATE_SUCCEEDED);
  *done.mutable_result() = Result();
  EXPECT_EQ(JobActivity(done), "perplexity 16 -> 16.4");
  const std::string table = RenderJobsTable({running, done});
  EXPECT_THAT(table, HasSubstr("ID   STATE"));
  EXPECT_THAT(table, HasSubstr("RUNNING"));
  EXPECT_THAT(table, HasSubstr("smol.gguf"));
}

TEST(JobViewTest, ShortBlobReferencesAreAscii) {
  quantd::v1::DataRef ref;
  ref.set_blob("sha256:" + std::string(64, 'a'));
  EXPECT_EQ(ShortDataRef(ref), "sha256:aaaaaaaaaaaa...");
}

TEST(WorkersTableTest, OneRowPerWorker) {
  quantd::v1::ListWorkersResponse response;
  auto* worker = response.add_workers();
  worker->set_worker_id("gpu-host-0");
  worker->set_alive(true);
  auto* device = worker->mutable_capabilities()->add_devices();
  device->set_name("cuda:0");
  device->set_memory_bytes(80ull << 30);
  worker->mutable_capabilities()->set_max_concurrent_jobs(2);
  worker->mutable_capabilities()->add_methods("rtn");
  worker->mutable_capabilities()->add_methods("osplus");
  worker->add_job_ids("j-1");
  const std::string text = RenderWorkersTable(response);
  EXPECT_THAT(text, HasSubstr("gpu-host-0  yes"));
  EXPECT_THAT(text, HasSubstr("cuda:0 (80.0 GiB)"));
  EXPECT_THAT(text, HasSubstr("rtn,osplus  1/2"));
}

}  // namespace
}  // namespace quantd::client
