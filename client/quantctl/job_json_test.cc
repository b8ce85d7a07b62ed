#include "client/quantctl/job_json.h"

#include "gtest/gtest.h"

namespace quantd::client {
namespace {

quantd::v1::Job SucceededJob() {
  quantd::v1::Job job;
  job.set_id("j-01J00000000000000000000000");
  job.set_request_id("req-1");
  job.set_state(quantd::v1::JOB_STATE_SUCCEEDED);
  job.set_attempt(1);
  job.mutable_create_time()->set_seconds(1735812672);
  auto* spec = job.mutable_spec();
  spec->set_method("osplus");
  spec->mutable_scheme()->set_preset("w8a8");
  spec->mutable_model()->set_uri("file:///m/smollm2.gguf");
  (*spec->mutable_labels())["team"] = "ml";
  auto* result = job.mutable_result();
  result->set_metric("perplexity");
  result->set_fp_value(20.0);
  result->set_quantized_value(21.0);
  result->set_wall_seconds(12.5);
  result->set_peak_host_memory_bytes(1 << 30);
  auto* artifact = result->add_artifacts();
  artifact->set_name("report.json");
  artifact->set_kind("report");
  artifact->set_size_bytes(1234);
  artifact->set_blob("sha256:ab");
  return job;
}

TEST(JobJsonTest, JobDocumentHasTheDocumentedFields) {
  const nlohmann::json doc = JobToJson(SucceededJob());
  EXPECT_EQ(doc["id"], "j-01J00000000000000000000000");
  EXPECT_EQ(doc["state"], "SUCCEEDED");
  EXPECT_EQ(doc["method"], "osplus");
  EXPECT_EQ(doc["scheme"], "w8a8");
  EXPECT_EQ(doc["model"], "file:///m/smollm2.gguf");
  EXPECT_EQ(doc["labels"]["team"], "ml");
  EXPECT_EQ(doc["create_time"], "2025-01-02T10:11:12Z");
  EXPECT_TRUE(doc["start_time"].is_null());
  EXPECT_TRUE(doc["error"].is_null());
  EXPECT_TRUE(doc["progress"].is_null());
  EXPECT_EQ(doc["spec"]["scheme"]["preset"], "w8a8");
  EXPECT_EQ(doc["spec"]["model"]["uri"], "file:///m/smollm2.gguf");
  const nlohmann::json& result = doc["result"];
  EXPECT_EQ(result["metric"], "perplexity");
  EXPECT_DOUBLE_EQ(result["delta"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(result["delta_percent"].get<double>(), 5.0);
  EXPECT_EQ(result["peak_host_memory_bytes"], 1 << 30);
  EXPECT_EQ(result["artifacts"][0]["name"], "report.json");
  EXPECT_EQ(result["artifacts"][0]["size_bytes"], 1234);
}

TEST(JobJsonTest, ErrorsCarryTheCodeName) {
  quantd::v1::Job job;
  job.set_state(quantd::v1::JOB_STATE_FAILED);
  job.mutable_error()->set_code(8);
  job.mutable_error()->set_message("CUDA out of memory");
  const nlohmann::json doc = JobToJson(job);
  EXPECT_EQ(doc["state"], "FAILED");
  EXPECT_EQ(doc["error"]["code"], "RESOURCE_EXHAUSTED");
  EXPECT_EQ(doc["error"]["message"], "CUDA out of memory");
  EXPECT_TRUE(doc["result"].is_null());
}

TEST(JobJsonTest, DeltaPercentIsNullWithoutABaseline) {
  EXPECT_TRUE(DeltaPercent(0, 5).is_null());
  EXPECT_DOUBLE_EQ(DeltaPercent(-2, -1).get<double>(), 50.0);
}

TEST(JobJsonTest, EventsNameTheirKind) {
  quantd::v1::JobEvent event;
  event.set_sequence(4);
  event.mutable_progress()->set_stage("quantize");
  event.mutable_progress()->set_block_index(2);
  EXPECT_EQ(EventToJson(event)["type"], "progress");
  EXPECT_EQ(EventToJson(event)["sequence"], 4);
  EXPECT_EQ(EventToJson(event)["progress"]["block_index"], 2);
  event.mutable_log()->set_level("warn");
  event.mutable_log()->set_message("m");
  EXPECT_EQ(EventToJson(event)["type"], "log");
  EXPECT_EQ(EventToJson(event)["level"], "warn");
  event.mutable_terminal()->set_state(quantd::v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(EventToJson(event)["type"], "terminal");
  EXPECT_EQ(EventToJson(event)["state"], "CANCELLED");
}

TEST(JobJsonTest, WorkersListDevicesAndJobs) {
  quantd::v1::WorkerInfo worker;
  worker.set_worker_id("w-1");
  worker.set_alive(true);
  auto* device = worker.mutable_capabilities()->add_devices();
  device->set_name("cuda:0");
  device->set_memory_bytes(80ull << 30);
  worker.mutable_capabilities()->add_methods("osplus");
  worker.add_job_ids("j-1");
  const nlohmann::json doc = WorkerToJson(worker);
  EXPECT_EQ(doc["worker_id"], "w-1");
  EXPECT_EQ(doc["devices"][0]["memory_bytes"], 80ull << 30);
  EXPECT_EQ(doc["methods"][0], "osplus");
  EXPECT_EQ(doc["job_ids"][0], "j-1");
}

}  // namespace
}  // namespace quantd::client
