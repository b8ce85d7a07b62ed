// quantd-worker against a real quantd on loopback, with the fake engine
// script (worker/agent/testdata/fake_engine.py) in place of quantd-engine:
// a submitted job is leased, run, relayed and completed with its artifacts;
// a cancel stops the engine; a worker shutdown gives the lease back, and
// the next attempt gets the checkpoint files it uploaded.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/scheduler/quantd_process.h"
#include "tests/integration/scheduler/test_clients.h"
#include "worker/agent/child_process.h"

namespace quantd::testing {
namespace {

namespace fs = std::filesystem;
namespace v1 = quantd::v1;
using ::testing::Contains;
using ::testing::HasSubstr;

// True when `dir` holds nothing (or was never created).
bool IsEmptyDir(const std::string& dir) {
  std::error_code error;
  return !fs::exists(dir, error) || fs::is_empty(dir, error);
}

std::string ReadAll(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

class WorkerIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(agent::BecomeChildSubreaper().ok());
    model_dir_ = scratch_.path() + "/models/tiny";
    WriteTinyModel(model_dir_);
    auto process =
        QuantdProcess::Start(scratch_.path() + "/q",
                             {"--allowed_roots=" + scratch_.path() + "/models",
                              "--lease.heartbeat_interval_seconds=0.2",
                              "--scheduler.tick_interval_seconds=0.05"});
    ASSERT_TRUE(process.ok()) << process.status();
    quantd_ = *std::move(process);
    jobs_ = std::make_unique<JobClient>(quantd_->Channel());
    StartWorker();
  }

  void TearDown() override {
    if (worker_ != nullptr) {
      worker_->SignalGroup(SIGKILL);
      worker_->Wait();
    }
  }

  void StartWorker() {
    const char* binary_dir = std::getenv("QUANTD_BINARY_DIR");
    ASSERT_NE(binary_dir, nullptr);
    agent::SpawnOptions options;
    options.argv = {
        std::string(binary_dir) + "/worker/agent/quantd-worker",
        "--scheduler=" + quantd_->address(),
        "--worker-id=it-worker",
        "--engine=" + SourceDir() + "/worker/agent/testdata/fake_engine.py",
        "--work-dir=" + work_dir(),
        "--lease-wait-seconds=1",
        "--cancel-grace-seconds=5",
        "--metrics-listen=127.0.0.1:0",
        "--nvidia-smi=off"};
    options.output_path = worker_log();
    auto worker = agent::ChildProcess::Spawn(options);
    ASSERT_TRUE(worker.ok()) << worker.status();
    worker_ = *std::move(worker);
  }

  std::string Submit(const std::string& request_id,
                     const std::string& scenario) {
    v1::JobSpec spec = TinySpec(model_dir_);
    (*spec.mutable_labels())["fake.scenario"] = scenario;
    auto job = jobs_->Submit(request_id, spec);
    EXPECT_TRUE(job.ok()) << job.status();
    return job.ok() ? job->id() : "";
  }

  v1::Job WaitFor(const std::string& id, v1::JobState state) {
    auto job = jobs_->WaitForState(id, state);
    EXPECT_TRUE(job.ok()) << job.status() << "\nquantd:\n"
                          << quantd_->Log() << "\nworker:\n"
                          << ReadAll(worker_log());
    return job.ok() ? *job : v1::Job();
  }

  std::vector<std::string> ArtifactNames(const std::string& id) {
    v1::ListArtifactsRequest list;
    list.set_job_id(id);
    v1::ListArtifactsResponse artifacts;
    grpc::ClientContext context;
    EXPECT_TRUE(jobs_->stub()->ListArtifacts(&context, list, &artifacts).ok());
    std::vector<std::string> names;
    for (const auto& artifact : artifacts.artifacts()) {
      names.push_back(artifact.name());
    }
    return names;
  }

  std::string work_dir() const { return scratch_.path() + "/work"; }
  std::string worker_log() const { return scratch_.path() + "/worker.log"; }

  ScratchDir scratch_;
  std::string model_dir_;
  std::unique_ptr<QuantdProcess> quantd_;
  std::unique_ptr<JobClient> jobs_;
  std::unique_ptr<agent::ChildProcess> worker_;
};

TEST_F(WorkerIntegrationTest, RunsAJobToSuccessWithItsArtifacts) {
  const std::string id = Submit("ok", "succeed");
  const v1::Job job = WaitFor(id, v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(job.result().metric(), "perplexity");
  EXPECT_DOUBLE_EQ(job.result().quantized_value(), 11.25);

  v1::ListArtifactsRequest list;
  list.set_job_id(id);
  v1::ListArtifactsResponse artifacts;
  grpc::ClientContext list_context;
  ASSERT_TRUE(
      jobs_->stub()->ListArtifacts(&list_context, list, &artifacts).ok());
  std::vector<std::string> names;
  for (const auto& artifact : artifacts.artifacts()) {
    names.push_back(artifact.name());
    if (artifact.name() == "model/model.safetensors") {
      EXPECT_EQ(artifact.blob(), BlobRef(Sha256Hex(std::string(4096, '\x08'))));
      EXPECT_EQ(artifact.size_bytes(), 4096u);
    }
  }
  EXPECT_THAT(names, Contains("report.json"));
  EXPECT_THAT(names, Contains("model/model.safetensors"));

  // Block files go at once: block 0's at least reached quantd.
  EXPECT_THAT(ArtifactNames(id),
              Contains("checkpoint/block-00000.safetensors"));

  auto events = jobs_->Watch(id, 0, 1000);
  ASSERT_TRUE(events.ok()) << events.status();
  bool running = false;
  int blocks = 0;
  for (const v1::JobEvent& event : *events) {
    running |= event.state_change().to() == v1::JOB_STATE_RUNNING;
    blocks += event.progress().stage() == "quantize";
  }
  EXPECT_TRUE(running);
  EXPECT_EQ(blocks, 3);
  EXPECT_TRUE(IsEmptyDir(work_dir()));
}

TEST_F(WorkerIntegrationTest, CancelStopsTheEngine) {
  const std::string id = Submit("cancel", "hang");
  WaitFor(id, v1::JOB_STATE_RUNNING);
  ASSERT_TRUE(jobs_->Cancel(id).ok());
  const v1::Job job = WaitFor(id, v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(job.state(), v1::JOB_STATE_CANCELLED);
  EXPECT_TRUE(IsEmptyDir(work_dir()));
}

TEST_F(WorkerIntegrationTest, WorkerShutdownGivesTheLeaseBack) {
  const std::string id = Submit("release", "hang");
  WaitFor(id, v1::JOB_STATE_RUNNING);
  worker_->SignalGroup(SIGTERM);
  const agent::ExitStatus exit = worker_->Wait();
  worker_.reset();
  EXPECT_EQ(exit.AsInt(), 0) << ReadAll(worker_log());
  const v1::Job job = WaitFor(id, v1::JOB_STATE_QUEUED);
  EXPECT_EQ(job.attempt(), 1u);
  EXPECT_THAT(ReadAll(worker_log()), HasSubstr("outcome=released"));
}

TEST_F(WorkerIntegrationTest, AReleasedJobResumesFromItsCheckpointFiles) {
  const std::string id = Submit("resume", "hang");
  // The hanging engine finishes block 0, then sleeps; the streams file that
  // commits block 0 follows block 0's file to quantd.
  auto committed = [&] {
    const std::vector<std::string> names = ArtifactNames(id);
    return std::find(names.begin(), names.end(),
                     "checkpoint/streams.safetensors") != names.end();
  };
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (!committed() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  worker_->SignalGroup(SIGTERM);
  EXPECT_EQ(worker_->Wait().AsInt(), 0) << ReadAll(worker_log());
  worker_.reset();
  WaitFor(id, v1::JOB_STATE_QUEUED);
  const std::vector<std::string> names = ArtifactNames(id);
  EXPECT_THAT(names, Contains("checkpoint/block-00000.safetensors"));
  EXPECT_THAT(names, Contains("checkpoint/streams.safetensors"));

  // The next attempt gets both in its lease and puts them where the engine
  // looks; the fake engine logs what it found.
  StartWorker();
  WaitFor(id, v1::JOB_STATE_RUNNING);
  ASSERT_TRUE(jobs_->Cancel(id).ok());
  WaitFor(id, v1::JOB_STATE_CANCELLED);
  auto events = jobs_->Watch(id, 0, 1000);
  ASSERT_TRUE(events.ok()) << events.status();
  std::vector<std::string> messages;
  for (const v1::JobEvent& event : *events) {
    if (event.has_log()) messages.push_back(event.log().message());
  }
  EXPECT_THAT(messages,
              Contains(absl::StrCat(
                  "resume sha256=", Sha256Hex("streams after block 0"),
                  " blocks=block-00000.safetensors")));
}

}  // namespace
}  // namespace quantd::testing
