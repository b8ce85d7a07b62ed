// The lease loop end to end: a Worker against an in-process FakeGateway
// (real gRPC on 127.0.0.1), running the fake engine script.
#include "worker/agent/worker.h"

#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/sha256.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "worker/agent/child_process.h"
#include "worker/agent/fake_gateway.h"

namespace quantd::agent {
namespace {

namespace fs = std::filesystem;
using testing::FakeGateway;
using testing::FakeGatewayState;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr uint64_t kToken = 7;

std::string FakeEngine() {
  const char* source = std::getenv("QUANTD_SOURCE_DIR");
  return std::string(source != nullptr ? source : ".") +
         "/worker/agent/testdata/fake_engine.py";
}

quantd::v1::Lease MakeLease(const std::string& job_id,
                            const std::string& scenario) {
  quantd::v1::Lease lease;
  lease.set_fencing_token(kToken);
  quantd::v1::Job& job = *lease.mutable_job();
  job.set_id(job_id);
  job.set_attempt(1);
  job.mutable_spec()->set_method("rtn");
  job.mutable_spec()->mutable_model()->set_uri("file:///models/tiny");
  (*job.mutable_spec()->mutable_labels())["fake.scenario"] = scenario;
  return lease;
}

// The number after `key=` in the first log line that has one, or -1.
int64_t LoggedNumber(const FakeGatewayState& state, const std::string& key) {
  const std::string text = state.LogText();
  const size_t at = text.find(key + "=");
  if (at == std::string::npos) return -1;
  std::string digits = text.substr(at + key.size() + 1);
  digits = digits.substr(0, digits.find_first_not_of("0123456789"));
  int64_t value = -1;
  return absl::SimpleAtoi(digits, &value) ? value : -1;
}

bool SawRunning(const FakeGatewayState& state) {
  for (const auto& list : {&state.events, &state.rejected_events}) {
    for (const auto& event : *list) {
      if (event.has_state_change() &&
          event.state_change().to() == quantd::v1::JOB_STATE_RUNNING) {
        return true;
      }
    }
  }
  return false;
}

double CounterValue(prometheus::Registry& registry, const std::string& name,
                    const std::string& label_value) {
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) {
      for (const auto& label : metric.label) {
        if (label.value == label_value) return metric.counter.value;
      }
    }
  }
  return 0;
}

uint64_t HistogramCount(prometheus::Registry& registry, const std::string& name,
                        const std::string& label_value) {
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) {
      for (const auto& label : metric.label) {
        if (label.value == label_value) return metric.histogram.sample_count;
      }
    }
  }
  return 0;
}

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(BecomeChildSubreaper().ok());
    std::string pattern = ::testing::TempDir() + "/worker-XXXXXX";
    work_root_ = mkdtemp(pattern.data());
    auto logs = LoggerFactory::Create({.levels = "warn"});
    ASSERT_TRUE(logs.ok());
    logs_ = *std::move(logs);
    client_ = std::make_unique<GatewayClient>(
        grpc::CreateChannel(gateway_.address(),
                            grpc::InsecureChannelCredentials()),
        GatewayClientOptions{.rpc_timeout = absl::Seconds(10)});
  }

  void TearDown() override {
    StopWorker();
    fs::remove_all(work_root_);
  }

  WorkerOptions Options() {
    WorkerOptions options;
    options.worker_id = "test-worker";
    options.lease_wait = absl::Milliseconds(200);
    options.reconnect = {.initial_backoff = absl::Milliseconds(20),
                         .max_backoff = absl::Milliseconds(200)};
    options.runner.work_root = work_root_;
    options.runner.engine_path = FakeEngine();
    options.runner.cancel_grace = absl::Seconds(30);
    options.runner.relay.poll_interval = absl::Milliseconds(10);
    options.reporter.transfer_retry = {
        .max_attempts = 4, .initial_backoff = absl::Milliseconds(10)};
    options.reporter.complete_retry = options.reporter.transfer_retry;
    return options;
  }

  void StartWorker(WorkerOptions options) {
    quantd::v1::WorkerCapabilities capabilities;
    capabilities.set_engine_version("fake-0.1");
    worker_ = std::make_unique<Worker>(
        std::move(options), capabilities, *client_, &metrics_,
        [] { return uint64_t{42} << 20; }, logs_->Get("worker"));
    thread_ = std::thread([this] { run_status_ = worker_->Run(); });
  }

  void StopWorker() {
    if (worker_ == nullptr) return;
    worker_->Stop();
    thread_.join();
    worker_.reset();
  }

  // Waits for the job's completion and returns it.
  quantd::v1::CompleteJobRequest AwaitCompletion() {
    EXPECT_TRUE(gateway_.WaitUntil(
        [](const FakeGatewayState& s) { return !s.completions.empty(); }));
    const FakeGatewayState state = gateway_.Snapshot();
    return state.completions.empty() ? quantd::v1::CompleteJobRequest()
                                     : state.completions.front();
  }

  bool WorkDirIsEmpty() const { return fs::is_empty(work_root_); }

  FakeGateway gateway_;
  std::string work_root_;
  std::unique_ptr<LoggerFactory> logs_;
  std::unique_ptr<GatewayClient> client_;
  prometheus::Registry registry_;
  WorkerMetrics metrics_{registry_};
  std::unique_ptr<Worker> worker_;
  std::thread thread_;
  absl::Status run_status_;
};

TEST_F(WorkerTest, RunsALeasedJobToSuccess) {
  gateway_.Update([](FakeGatewayState& s) {
    s.leases.push_back(MakeLease("j-ok", "succeed"));
  });
  StartWorker(Options());
  const auto completion = AwaitCompletion();
  EXPECT_EQ(completion.job_id(), "j-ok");
  EXPECT_EQ(completion.fencing_token(), kToken);
  EXPECT_EQ(completion.state(), quantd::v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(completion.exit_status(), 0);
  EXPECT_EQ(completion.result().metric(), "perplexity");
  EXPECT_DOUBLE_EQ(completion.result().quantized_value(), 11.25);
  ASSERT_EQ(completion.result().artifacts_size(), 2);
  EXPECT_EQ(completion.result().artifacts(0).name(), "report.json");
  EXPECT_EQ(completion.result().artifacts(1).name(), "model/model.safetensors");

  const FakeGatewayState state = gateway_.Snapshot();
  EXPECT_EQ(state.registrations, 1);
  ASSERT_FALSE(state.events.empty());
  EXPECT_TRUE(state.events.front().has_state_change());
  EXPECT_EQ(state.events.front().state_change().to(),
            quantd::v1::JOB_STATE_RUNNING);
  std::vector<uint32_t> blocks;
  for (const auto& event : state.events) {
    if (event.progress().stage() == "quantize") {
      blocks.push_back(event.progress().block_index());
      EXPECT_EQ(event.progress().block_count(), 3u);
      EXPECT_EQ(
          event.progress().layers(0).name(),
          absl::StrCat("blocks.", event.progress().block_index(), ".qkv"));
    }
  }
  EXPECT_EQ(blocks, (std::vector<uint32_t>{0, 1, 2}));
  EXPECT_TRUE(WorkDirIsEmpty());
  StopWorker();  // The runner counts the job after its completion returns.
  EXPECT_EQ(CounterValue(registry_, "quantd_worker_jobs_total", "succeeded"),
            1);
  for (const char* stage : {"quantize", "evaluate"}) {
    EXPECT_EQ(
        HistogramCount(registry_, "quantd_worker_engine_stage_seconds", stage),
        1u)
        << stage;
  }
}

TEST_F(WorkerTest, UploadsArtifactsAndCheckpointsUnderTheirHashes) {
  gateway_.Update([](FakeGatewayState& s) {
    s.leases.push_back(MakeLease("j-upload", "succeed"));
  });
  StartWorker(Options());
  ASSERT_EQ(AwaitCompletion().state(), quantd::v1::JOB_STATE_SUCCEEDED);
  const FakeGatewayState state = gateway_.Snapshot();
  // Every upload's bytes hash to the blob it was announced as.
  const auto model = state.AcceptedUploads("model/model.safetensors");
  ASSERT_EQ(model.size(), 1u);
  EXPECT_EQ(model[0]->data, std::string(4096, '\x08'));
  EXPECT_EQ(model[0]->header.artifact().blob(),
            BlobRef(Sha256Hex(model[0]->data)));
  EXPECT_EQ(model[0]->header.artifact().kind(), "model");
  EXPECT_EQ(model[0]->header.fencing_token(), kToken);
  // Block files go at once, streams files are spaced out (one a minute by
  // default), and the job's end drops what still waits, so the first block
  // file, and perhaps more, arrive.
  EXPECT_EQ(state.AcceptedUploads("checkpoint/block-00000.safetensors").size(),
            1u);
  for (const FakeGatewayState::Upload& upload : state.uploads) {
    const quantd::v1::Artifact& artifact = upload.header.artifact();
    if (!upload.accepted || !absl::StartsWith(artifact.name(), "checkpoint/")) {
      continue;
    }
    EXPECT_THAT(upload.data,
                StartsWith(artifact.name() == "checkpoint/streams.safetensors"
                               ? "streams after block "
                               : "block "));
    EXPECT_EQ(artifact.blob(), BlobRef(Sha256Hex(upload.data)));
    EXPECT_EQ(artifact.kind(), "checkpoint");
  }
}

TEST_F(WorkerTest, HeartbeatsRenewTheHeldLease) {
  gateway_.Update([](FakeGatewayState& s) {
    s.leases.push_back(MakeLease("j-hb", "hang"));
  });
  StartWorker(Options());
  ASSERT_TRUE(gateway_.WaitUntil([](const FakeGatewayState& s) {
    for (const auto& beat : s.heartbeat_requests) {
      if (beat.leases_size() == 1 && beat.leases(0).job_id() == "j-hb" &&
          beat.leases(0).fencing_token() == kToken) {
        return beat.worker_id() == "test-worker" &&
               beat.device_memory_used_bytes() == (uint64_t{42} << 20);
      }
    }
    return false;
  }));
  StopWorker();
}

TEST_F(WorkerTest, AFailedEngineReportsItsErrorExitStatusAndStderr) {
  gateway_.Update([](FakeGatewayState& s) {
    s.leases.push_back(MakeLease("j-fail", "fail"));
  });
  StartWorker(Options());
  const auto completion = AwaitCompletion();
  EXPECT_EQ(completion.state(), quantd::v1::JOB_STATE_FAILED);
  EXPECT_EQ(completion.error().code(), 13);
  EXPECT_EQ(completion.exit_status(), 3);
  EXPECT_THAT(completion.error().message(), HasSubstr("fake failure"));
  EXPECT_THAT(completion.error().message(),
              HasSubstr("fake engine: scenario=fail"));
  EXPECT_TRUE(WorkDirIsEmpty());
}

TEST_F(WorkerTest, ACrashedEngineFailsTheJob) {
  gateway_.Update([](FakeGatewayState& s) {
    s.leases.push_back(MakeLease("j-crash", "crash"));
  });
  StartWorker(Options());
  const auto completion = AwaitCompletion();
  EXPECT_EQ(completion.state(), quantd::v1::JOB_STATE_FAILED);
  EXPECT_EQ(completion.exit_status(), 128 + SIGSEGV);
  EXPECT_THAT(completion.error().message(), HasSubstr("about to crash"));
}

TEST_F(WorkerTest, CancelStopsTheEngineAndReportsCancelled) {
  gateway_.Update([](FakeGatewayState& s) {
    s.leases.push_back(MakeLease("j-cancel", "hang"));
  });
  StartWorker(Options());
  ASSERT_TRUE(gateway_.WaitUntil(
      [](const FakeGatewayState& s) { return LoggedNumber(s, "pid") > 0; }));
  gateway_.Update([](FakeGatewayState& s) { s.cancel_job_ids = {"j-cancel"}; });
  const auto completion = AwaitCompletion();
  EXPECT_EQ(completion.state(), quantd::v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(completion.exit_status(), 143);
  EXPECT_TRUE(WorkDirIsEmpty());
  const pid_t engine =
      static_cast<pid_t>(LoggedNumber(gateway_.Snapshot(), "pid"));
  ASSERT_GT(engine, 0);
  EXPECT_FALSE(ProcessGroupExists(engine));
}

TEST_F(WorkerTest, CancelKillsAnEngineThatIgnoresSigterm) {
  gateway_.Update([](FakeGatewayState& s) {
    s.leases.push_back(MakeLease("j-stubborn", "stubborn"));
  });
  WorkerOptions options = Options();
  options.runner.cancel_grace = absl::Milliseconds(300);
  StartWorker(options);
  ASSERT_TRUE(gateway_.WaitUntil([](const FakeGatewayState& s) {
    return LoggedNumber(s, "grandchild") > 0;
  }));
  gateway_.Update(
      [](FakeGatewayState& s) { s.cancel_job_ids = {"j-stubborn"}; });
  const auto completion = AwaitCompletion();
  EXPECT_EQ(completion.state(), quantd::v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(completion.exit_status(), 128 + SIGKILL);
  const FakeGatewayState state = gateway_.Snapshot();
  const pid_t engine = static_cast<pid_t>(LoggedNumber(state, "pid"));
  const pid_t grandchild =
      static_cast<pid_t>(LoggedNumber(state, "grandchild"));
  EXPECT_FALSE(ProcessGroupExists(engine));
  EXPECT_NE(::kill(grandchild, 0), 0);
  EXPECT_TRUE(WorkDirIsEmpty());
}

TEST_F(WorkerTest, ALostLeaseKillsTheEngineSilently) {
  quantd::v1::Lease lease = MakeLease("j-lost", "succeed");
  // A long, chatty run: the lease is lost while it reports progress.
  auto& labels = *lease.mutable_job()->mutable_spec()->mutable_labels();
  labels["fake.blocks"] = "100000";
  labels["fake.step_seconds"] = "0.05";
  gateway_.Update([&](FakeGatewayState& s) { s.leases.push_back(lease); });
  StartWorker(Options());
  ASSERT_TRUE(gateway_.WaitUntil(
      [](const FakeGatewayState& s) { return LoggedNumber(s, "pid") > 0; }));
  gateway_.Update([](FakeGatewayState& s) { s.lost_job_ids = {"j-lost"}; });
  const pid_t engine =
      static_cast<pid_t>(LoggedNumber(gateway_.Snapshot(), "pid"));
  // The runner ends without reporting; the worker then holds no lease.
  for (int i = 0;
       i < 3000 && (ProcessGroupExists(engine) || worker_->running_jobs() > 0);
       ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_FALSE(ProcessGroupExists(engine));
  EXPECT_EQ(worker_->running_jobs(), 0u);
  StopWorker();
  const FakeGatewayState state = gateway_.Snapshot();
  EXPECT_TRUE(state.completions.empty());
  EXPECT_FALSE(state.rejected_events.empty());
  EXPECT_TRUE(WorkDirIsEmpty());
  EXPECT_EQ(CounterValue(registry_, "quantd_worker_jobs_total", "lost"), 1);
}

TEST_F(WorkerTest, ARevokedLeaseKillsTheEngineSilently) {
  gateway_.Update([](FakeGatewayState& s) {
    s.leases.push_back(MakeLease("j-revoked", "hang"));
  });
  StartWorker(Options());
  ASSERT_TRUE(gateway_.WaitUntil(
      [](const FakeGatewayState& s) { return LoggedNumber(s, "pid") > 0; }));
  gateway_.Update(
      [](FakeGatewayState& s) { s.revoked_job_ids = {"j-revoked"}; });
  for (int i = 0; i < 3000 && worker_->running_jobs() > 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(worker_->running_jobs(), 0u);
  const pid_t engine =
      static_cast<pid_t>(LoggedNumber(gateway_.Snapshot(), "pid"));
  EXPECT_FALSE(ProcessGroupExists(engine));
  StopWorker();
  EXPECT_TRUE(gateway_.Snapshot().completions.empty());
}

TEST_F(WorkerTest, ShutdownReleasesTheLeaseAfterTheCheckpointUpload) {
  gateway_.Update([](FakeGatewayState& s) {
    s.leases.push_back(MakeLease("j-release", "hang"));
  });
  StartWorker(Options());
  // The streams file follows the block file it names.
  ASSERT_TRUE(gateway_.WaitUntil([](const FakeGatewayState& s) {
    return !s.AcceptedUploads("checkpoint/streams.safetensors").empty();
  }));
  StopWorker();
  EXPECT_TRUE(run_status_.ok()) << run_status_;
  const FakeGatewayState state = gateway_.Snapshot();
  EXPECT_EQ(state.AcceptedUploads("checkpoint/block-00000.safetensors").size(),
            1u);
  ASSERT_EQ(state.completions.size(), 1u);
  EXPECT_TRUE(state.completions[0].release());
  EXPECT_EQ(state.completions[0].exit_status(), 143);
  EXPECT_TRUE(WorkDirIsEmpty());
}

TEST_F(WorkerTest, DownloadsBlobInputsAndTheResumeFiles) {
  const std::string model = std::string("GGUF") + std::string(3000, '\7');
  const std::string block = "block 0 from attempt 1";
  const std::string streams = "streams after block 0 from attempt 1";
  quantd::v1::Lease lease = MakeLease("j-resume", "succeed");
  lease.mutable_job()->mutable_spec()->mutable_model()->set_blob(
      BlobRef(Sha256Hex(model)));
  for (const auto& [name, data] :
       {std::pair{"checkpoint/block-00000.safetensors", block},
        std::pair{"checkpoint/streams.safetensors", streams}}) {
    quantd::v1::Artifact* file = lease.add_resume_files();
    file->set_name(name);
    file->set_kind("checkpoint");
    file->set_blob(BlobRef(Sha256Hex(data)));
  }
  gateway_.Update([&](FakeGatewayState& s) {
    s.blobs[BlobRef(Sha256Hex(model))] = model;
    s.blobs[BlobRef(Sha256Hex(block))] = block;
    s.blobs[BlobRef(Sha256Hex(streams))] = streams;
    s.leases.push_back(lease);
  });
  StartWorker(Options());
  EXPECT_EQ(AwaitCompletion().state(), quantd::v1::JOB_STATE_SUCCEEDED);
  const std::string log = gateway_.Snapshot().LogText();
  EXPECT_THAT(log, HasSubstr("resume sha256=" + Sha256Hex(streams) +
                             " blocks=block-00000.safetensors"));
  EXPECT_THAT(log, HasSubstr("model=file://" +
                             fs::canonical(work_root_).string() + "/"));
  EXPECT_THAT(log, HasSubstr(".gguf"));
}

TEST_F(WorkerTest, AMissingBlobFailsTheJobBeforeTheEngineStarts) {
  quantd::v1::Lease lease = MakeLease("j-noblob", "succeed");
  lease.mutable_job()->mutable_spec()->mutable_model()->set_blob(
      BlobRef(std::string(64, '0')));
  gateway_.Update([&](FakeGatewayState& s) { s.leases.push_back(lease); });
  StartWorker(Options());
  const auto completion = AwaitCompletion();
  EXPECT_EQ(completion.state(), quantd::v1::JOB_STATE_FAILED);
  EXPECT_EQ(completion.error().code(), 5);
  EXPECT_THAT(completion.error().message(), HasSubstr("model"));
  EXPECT_TRUE(gateway_.Snapshot().events.empty());
}

TEST_F(WorkerTest, RetriesAnUploadWhoseStreamFailed) {
  gateway_.Update([](FakeGatewayState& s) {
    s.leases.push_back(MakeLease("j-retry", "succeed"));
    s.failing_uploads = 2;
  });
  StartWorker(Options());
  EXPECT_EQ(AwaitCompletion().state(), quantd::v1::JOB_STATE_SUCCEEDED);
  const FakeGatewayState state = gateway_.Snapshot();
  int refused = 0;
  for (const auto& upload : state.uploads) refused += !upload.accepted;
  EXPECT_EQ(refused, 2);
  EXPECT_EQ(state.AcceptedUploads("report.json").size(), 1u);
  EXPECT_EQ(state.AcceptedUploads("model/model.safetensors").size(), 1u);
}

TEST_F(WorkerTest, AFloodOfProgressNeverLosesTheImportantEvents) {
  gateway_.Update([](FakeGatewayState& s) {
    s.leases.push_back(MakeLease("j-flood", "flood"));
  });
  WorkerOptions options = Options();
  options.runner.event_queue_capacity = 16;
  StartWorker(options);
  const auto completion = AwaitCompletion();
  EXPECT_EQ(completion.state(), quantd::v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(completion.result().artifacts_size(), 2);
  EXPECT_TRUE(SawRunning(gateway_.Snapshot()));
}

TEST_F(WorkerTest, IgnoresMalformedEngineLines) {
  gateway_.Update([](FakeGatewayState& s) {
    s.leases.push_back(MakeLease("j-garbage", "garbage"));
  });
  StartWorker(Options());
  EXPECT_EQ(AwaitCompletion().state(), quantd::v1::JOB_STATE_SUCCEEDED);
}

}  // namespace
}  // namespace quantd::agent
