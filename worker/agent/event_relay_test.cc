#include "worker/agent/event_relay.h"

#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/sinks/null_sink.h"

namespace quantd::agent {
namespace {

using ::testing::ElementsAre;

// Records what the relay reports; can fail or block on demand.
class FakeReporter final : public JobReporter {
 public:
  absl::Status ReportEvents(
      const std::vector<quantd::v1::JobEvent>& events) override {
    absl::MutexLock lock(&mu_);
    ++report_calls;
    for (const auto& event : events) reported.push_back(event);
    return report_status;
  }

  absl::StatusOr<quantd::v1::Artifact> UploadArtifact(
      const std::string& path, const quantd::v1::Artifact& artifact) override {
    absl::MutexLock lock(&mu_);
    uploaded_paths.push_back(path);
    uploaded.push_back(artifact);
    if (block_checkpoints && artifact.kind() == "checkpoint") {
      auto released = [this] { return !block_checkpoints || interrupted; };
      mu_.Await(absl::Condition(&released));
    }
    if (block_uploads) {
      auto released = [this] { return interrupted; };
      mu_.Await(absl::Condition(&released));
      return absl::CancelledError("interrupted");
    }
    if (!upload_status.ok()) return upload_status;
    quantd::v1::Artifact attached = artifact;
    attached.set_kind(attached.kind() + "-attached");
    return attached;
  }

  absl::StatusOr<quantd::v1::Job> CompleteJob(
      quantd::v1::CompleteJobRequest) override {
    return quantd::v1::Job();
  }

  void InterruptTransfers() override {
    absl::MutexLock lock(&mu_);
    interrupted = true;
  }

  bool WaitForUploads(size_t count) {
    absl::MutexLock lock(&mu_);
    auto ready = [&] { return uploaded.size() >= count; };
    return mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Seconds(30));
  }

  bool WaitForReported(size_t count) {
    absl::MutexLock lock(&mu_);
    auto ready = [&] { return reported.size() >= count; };
    return mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Seconds(30));
  }

  std::vector<std::string> UploadedBlobs(const std::string& kind) {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> blobs;
    for (const auto& artifact : uploaded) {
      if (artifact.kind() == kind) blobs.push_back(artifact.blob());
    }
    return blobs;
  }

  void ReleaseCheckpoints() {
    absl::MutexLock lock(&mu_);
    block_checkpoints = false;
  }

  absl::Mutex mu_;
  int report_calls = 0;
  std::vector<quantd::v1::JobEvent> reported;
  std::vector<std::string> uploaded_paths;
  std::vector<quantd::v1::Artifact> uploaded;
  absl::Status report_status;
  absl::Status upload_status;
  bool block_uploads = false;
  bool block_checkpoints = false;
  bool interrupted = false;
};

EngineEvent State() {
  EngineEvent event;
  event.type = EngineEventType::kState;
  event.state = "running";
  return event;
}

EngineEvent Progress(uint32_t block) {
  EngineEvent event;
  event.type = EngineEventType::kProgress;
  event.progress.set_block_index(block);
  return event;
}

EngineEvent File(EngineEventType type, const std::string& name,
                 const std::string& path, char hex) {
  EngineEvent event;
  event.type = type;
  event.file.name = name;
  event.file.kind =
      type == EngineEventType::kCheckpoint ? "checkpoint" : "report";
  event.file.path = path;
  event.file.sha256_hex = std::string(64, hex);
  event.file.size_bytes = 10;
  return event;
}

// The block part the engine announces after block `block`.
EngineEvent BlockPart(uint32_t block, char hex) {
  EngineEvent event =
      File(EngineEventType::kCheckpoint,
           "checkpoint/block-0000" + std::to_string(block) + ".safetensors",
           "/work/checkpoint/block-" + std::to_string(block), hex);
  event.file.part = CheckpointPart::kBlock;
  event.file.block_index = block;
  return event;
}

// The streams part the engine announces after block `block`.
EngineEvent StreamsPart(uint32_t block, char hex) {
  EngineEvent event =
      File(EngineEventType::kCheckpoint, "checkpoint/streams.safetensors",
           "/work/checkpoint/streams", hex);
  event.file.part = CheckpointPart::kStreams;
  event.file.block_index = block;
  return event;
}

std::string Blob(char hex) { return "sha256:" + std::string(64, hex); }

absl::StatusOr<std::string> ResolveUnderWork(absl::string_view path) {
  if (path.substr(0, 6) != "/work/") {
    return absl::InvalidArgumentError("path: outside the work dir");
  }
  return std::string(path);
}

class EventRelayTest : public ::testing::Test {
 protected:
  std::unique_ptr<EventRelay> MakeRelay(
      absl::Duration checkpoint_interval = absl::ZeroDuration()) {
    return std::make_unique<EventRelay>(
        RelayOptions{.max_batch_events = 64,
                     .poll_interval = absl::Milliseconds(5),
                     .checkpoints = {.min_interval = checkpoint_interval}},
        queue_, reporter_, ResolveUnderWork, [this] { ++lease_lost_calls_; },
        std::make_shared<spdlog::logger>(
            "test", std::make_shared<spdlog::sinks::null_sink_mt>()),
        "j-test");
  }

  EventQueue queue_{1024};
  FakeReporter reporter_;
  std::atomic<int> lease_lost_calls_{0};
};

TEST_F(EventRelayTest, RelaysEventsUploadsFilesAndKeepsTheResult) {
  queue_.Push(State());
  queue_.Push(Progress(0));
  queue_.Push(Progress(1));
  queue_.Push(File(EngineEventType::kArtifact, "report.json",
                   "/work/report.json", 'b'));
  EngineEvent result;
  result.type = EngineEventType::kResult;
  result.result.set_quantized_value(11.25);
  queue_.Push(result);
  queue_.Close();
  auto relay = MakeRelay();
  relay->Start();
  const EngineReport report = relay->Finish(/*drain=*/true);

  ASSERT_EQ(reporter_.reported.size(), 3u);
  EXPECT_TRUE(reporter_.reported[0].has_state_change());
  EXPECT_EQ(reporter_.reported[1].progress().block_index(), 0u);
  EXPECT_EQ(reporter_.reported[2].progress().block_index(), 1u);
  ASSERT_EQ(reporter_.uploaded.size(), 1u);
  EXPECT_EQ(reporter_.uploaded[0].name(), "report.json");
  EXPECT_EQ(reporter_.uploaded[0].blob(), "sha256:" + std::string(64, 'b'));
  EXPECT_EQ(reporter_.uploaded[0].size_bytes(), 10u);
  EXPECT_THAT(reporter_.uploaded_paths, ElementsAre("/work/report.json"));
  ASSERT_TRUE(report.result.has_value());
  EXPECT_DOUBLE_EQ(report.result->quantized_value(), 11.25);
  // The artifact as the scheduler attached it; checkpoints are not listed.
  ASSERT_EQ(report.artifacts.size(), 1u);
  EXPECT_EQ(report.artifacts[0].kind(), "report-attached");
  EXPECT_TRUE(report.upload_error.ok());
  EXPECT_FALSE(relay->lease_lost());
}

TEST_F(EventRelayTest, ASlowCheckpointUploadHoldsUpNoOtherEvent) {
  reporter_.block_checkpoints = true;
  auto relay = MakeRelay();
  relay->Start();
  queue_.Push(BlockPart(0, 'a'));
  ASSERT_TRUE(reporter_.WaitForUploads(1));
  // Block 0 is stuck in its upload, yet everything after it goes.
  queue_.Push(StreamsPart(0, '0'));
  queue_.Push(Progress(1));
  queue_.Push(File(EngineEventType::kArtifact, "report.json",
                   "/work/report.json", 'r'));
  queue_.Push(BlockPart(1, 'b'));
  queue_.Push(StreamsPart(1, '1'));
  // Reported only once everything before it is handled.
  queue_.Push(Progress(2));
  ASSERT_TRUE(reporter_.WaitForReported(2));
  ASSERT_TRUE(reporter_.WaitForUploads(2));
  EXPECT_THAT(reporter_.UploadedBlobs("checkpoint"), ElementsAre(Blob('a')));
  EXPECT_THAT(reporter_.UploadedBlobs("report"), ElementsAre(Blob('r')));
  reporter_.ReleaseCheckpoints();
  // Every block part goes, in order, and each streams part once the block
  // parts it names are up: streams 0 right after block 0, although block 1
  // was already queued (the commit point moves despite a backlog).
  ASSERT_TRUE(reporter_.WaitForUploads(5));
  queue_.Close();
  const EngineReport report = relay->Finish(/*drain=*/true);
  EXPECT_THAT(reporter_.UploadedBlobs("checkpoint"),
              ElementsAre(Blob('a'), Blob('0'), Blob('b'), Blob('1')));
  std::vector<std::string> names;
  for (const auto& artifact : reporter_.uploaded) {
    if (artifact.kind() == "checkpoint") names.push_back(artifact.name());
  }
  EXPECT_THAT(names, ElementsAre("checkpoint/block-00000.safetensors",
                                 "checkpoint/streams.safetensors",
                                 "checkpoint/block-00001.safetensors",
                                 "checkpoint/streams.safetensors"));
  ASSERT_EQ(report.artifacts.size(), 1u);
  EXPECT_EQ(report.artifacts[0].name(), "report.json");
}

TEST_F(EventRelayTest, AResultDropsTheCheckpointWaitingForItsInterval) {
  auto relay = MakeRelay(absl::Hours(1));
  relay->Start();
  queue_.Push(StreamsPart(0, 'a'));
  ASSERT_TRUE(reporter_.WaitForUploads(1));
  // Within the hour after 'a', 'b' waits; the job is then done.
  queue_.Push(StreamsPart(1, 'b'));
  EngineEvent result;
  result.type = EngineEventType::kResult;
  queue_.Push(result);
  queue_.Close();
  const EngineReport report = relay->Finish(/*drain=*/true);
  EXPECT_TRUE(report.result.has_value());
  EXPECT_THAT(reporter_.UploadedBlobs("checkpoint"), ElementsAre(Blob('a')));
}

TEST_F(EventRelayTest, LostLeaseStopsTheRelayAndIsSignalledOnce) {
  reporter_.report_status = absl::FailedPreconditionError("stale token");
  queue_.Push(State());
  queue_.Push(File(EngineEventType::kArtifact, "report.json", "/work/r", 'c'));
  queue_.Push(Progress(2));
  queue_.Close();
  auto relay = MakeRelay();
  relay->Start();
  relay->Finish(/*drain=*/true);
  EXPECT_TRUE(relay->lease_lost());
  EXPECT_EQ(lease_lost_calls_.load(), 1);
  EXPECT_EQ(reporter_.report_calls, 1);
  EXPECT_TRUE(reporter_.uploaded.empty());
}

TEST_F(EventRelayTest,
       AFailedArtifactUploadFailsTheReportButACheckpointDoesNot) {
  reporter_.upload_status = absl::UnavailableError("scheduler down");
  queue_.Push(StreamsPart(0, 'a'));
  queue_.Close();
  auto relay = MakeRelay();
  relay->Start();
  EXPECT_TRUE(relay->Finish(/*drain=*/true).upload_error.ok());

  EventQueue queue(16);
  queue.Push(File(EngineEventType::kArtifact, "model.st", "/work/m", 'd'));
  queue.Close();
  EventRelay second(
      RelayOptions{}, queue, reporter_, ResolveUnderWork, {},
      std::make_shared<spdlog::logger>(
          "test", std::make_shared<spdlog::sinks::null_sink_mt>()),
      "j-test");
  second.Start();
  const EngineReport report = second.Finish(/*drain=*/true);
  EXPECT_EQ(report.upload_error.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(report.artifacts.empty());
}

TEST_F(EventRelayTest, RejectsAFileOutsideTheWorkDir) {
  queue_.Push(File(EngineEventType::kArtifact, "passwd", "/etc/passwd", 'e'));
  queue_.Close();
  auto relay = MakeRelay();
  relay->Start();
  const EngineReport report = relay->Finish(/*drain=*/true);
  EXPECT_TRUE(reporter_.uploaded.empty());
  EXPECT_EQ(report.upload_error.code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(EventRelayTest, AbandonInterruptsAnUploadInProgress) {
  reporter_.block_uploads = true;
  queue_.Push(File(EngineEventType::kArtifact, "model.st", "/work/m", 'f'));
  queue_.Push(Progress(7));
  auto relay = MakeRelay();
  relay->Start();
  ASSERT_TRUE(reporter_.WaitForUploads(1));
  const EngineReport report = relay->Finish(/*drain=*/false);
  EXPECT_TRUE(reporter_.interrupted);
  EXPECT_TRUE(reporter_.reported.empty());
  EXPECT_TRUE(report.upload_error.ok());
  EXPECT_EQ(lease_lost_calls_.load(), 0);
}

}  // namespace
}  // namespace quantd::agent
