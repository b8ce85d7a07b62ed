#include "worker/agent/checkpoint_uploader.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/sinks/null_sink.h"

namespace quantd::agent {
namespace {

using ::testing::ElementsAre;

// Records uploads; can hold them until released.
class HoldingReporter final : public JobReporter {
 public:
  absl::Status ReportEvents(const std::vector<quantd::v1::JobEvent>&) override {
    return absl::OkStatus();
  }

  absl::StatusOr<quantd::v1::Artifact> UploadArtifact(
      const std::string& path, const quantd::v1::Artifact& artifact) override {
    absl::MutexLock lock(&mu_);
    started.push_back(artifact.blob());
    names.push_back(artifact.name());
    paths.push_back(path);
    auto go = [this] { return !hold || interrupted; };
    mu_.Await(absl::Condition(&go));
    if (interrupted) return absl::CancelledError("interrupted");
    if (failing_blobs.count(artifact.blob()) > 0) {
      return absl::UnavailableError("retries exhausted");
    }
    if (!status.ok()) return status;
    return artifact;
  }

  absl::StatusOr<quantd::v1::Job> CompleteJob(
      quantd::v1::CompleteJobRequest) override {
    return quantd::v1::Job();
  }

  void InterruptTransfers() override {
    absl::MutexLock lock(&mu_);
    interrupted = true;
  }

  bool WaitForStarted(size_t count) {
    absl::MutexLock lock(&mu_);
    auto ready = [&] { return started.size() >= count; };
    return mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Seconds(30));
  }

  void Release() {
    absl::MutexLock lock(&mu_);
    hold = false;
  }

  std::vector<std::string> Started() {
    absl::MutexLock lock(&mu_);
    return started;
  }

  absl::Mutex mu_;
  std::vector<std::string> started;
  std::vector<std::string> names;
  std::vector<std::string> paths;
  // Every upload fails with `status`, those of these blobs with UNAVAILABLE.
  absl::Status status;
  std::set<std::string> failing_blobs;
  bool hold = false;
  bool interrupted = false;
};

std::string Blob(char hex) { return "sha256:" + std::string(64, hex); }

// The streams part after `block`.
EngineFile Checkpoint(char hex, uint32_t block, std::string path = "/w/c") {
  EngineFile file;
  file.name = "checkpoint/streams.safetensors";
  file.kind = "checkpoint";
  file.part = CheckpointPart::kStreams;
  file.path = std::move(path);
  file.sha256_hex = std::string(64, hex);
  file.size_bytes = 10;
  file.block_index = block;
  return file;
}

// The block part of `block`.
EngineFile Block(char hex, uint32_t block) {
  EngineFile file = Checkpoint(hex, block, "/w/b");
  file.name = "checkpoint/block-0000" + std::to_string(block) + ".safetensors";
  file.part = CheckpointPart::kBlock;
  file.size_bytes = 100;
  return file;
}

class CheckpointUploaderTest : public ::testing::Test {
 protected:
  std::unique_ptr<CheckpointUploader> Make(absl::Duration min_interval) {
    return std::make_unique<CheckpointUploader>(
        CheckpointUploadOptions{.min_interval = min_interval}, reporter_,
        [](absl::string_view path) { return std::string(path); },
        [this](const absl::Status& status) { errors_.push_back(status); },
        std::make_shared<spdlog::logger>(
            "test", std::make_shared<spdlog::sinks::null_sink_mt>()),
        "j-test");
  }

  HoldingReporter reporter_;
  std::vector<absl::Status> errors_;
};

TEST_F(CheckpointUploaderTest, OfferNeverWaitsForTheUploadInProgress) {
  reporter_.hold = true;
  auto uploader = Make(absl::ZeroDuration());
  uploader->Start();
  uploader->Offer(Checkpoint('a', 0));
  ASSERT_TRUE(reporter_.WaitForStarted(1));
  // The upload of 'a' is stuck; offering more returns at once.
  uploader->Offer(Checkpoint('b', 1));
  uploader->Offer(Checkpoint('c', 2));
  EXPECT_THAT(reporter_.Started(), ElementsAre(Blob('a')));
  reporter_.Release();
  const CheckpointUploadStats stats = uploader->Finish(/*flush=*/true);
  // 'b' was replaced by 'c' while it waited.
  EXPECT_THAT(reporter_.Started(), ElementsAre(Blob('a'), Blob('c')));
  EXPECT_EQ(stats.uploaded, 2u);
  EXPECT_EQ(stats.superseded, 1u);
  EXPECT_EQ(stats.last_uploaded_block, 2u);
  EXPECT_TRUE(errors_.empty());
}

TEST_F(CheckpointUploaderTest, SpacesUploadsAndFlushesTheNewestAtTheEnd) {
  auto uploader = Make(absl::Hours(1));
  uploader->Start();
  uploader->Offer(Checkpoint('a', 0));
  ASSERT_TRUE(reporter_.WaitForStarted(1));
  // Within the hour after 'a', nothing more is sent.
  uploader->Offer(Checkpoint('b', 1));
  uploader->Offer(Checkpoint('c', 2));
  EXPECT_THAT(reporter_.Started(), ElementsAre(Blob('a')));
  const CheckpointUploadStats stats = uploader->Finish(/*flush=*/true);
  EXPECT_THAT(reporter_.Started(), ElementsAre(Blob('a'), Blob('c')));
  EXPECT_EQ(stats.uploaded, 2u);
  EXPECT_EQ(stats.superseded, 1u);
}

TEST_F(CheckpointUploaderTest, FinishWithoutFlushDropsTheWaitingCheckpoint) {
  auto uploader = Make(absl::Hours(1));
  uploader->Start();
  uploader->Offer(Checkpoint('a', 0));
  ASSERT_TRUE(reporter_.WaitForStarted(1));
  uploader->Offer(Checkpoint('b', 1));
  const CheckpointUploadStats stats = uploader->Finish(/*flush=*/false);
  EXPECT_THAT(reporter_.Started(), ElementsAre(Blob('a')));
  EXPECT_EQ(stats.uploaded, 1u);
  EXPECT_EQ(stats.superseded, 1u);
  EXPECT_EQ(stats.last_uploaded_block, 0u);
}

TEST_F(CheckpointUploaderTest, SendsEveryBlockPartInOrderBeforeTheStreams) {
  reporter_.hold = true;
  auto uploader = Make(absl::ZeroDuration());
  uploader->Start();
  uploader->Offer(Block('a', 0));
  ASSERT_TRUE(reporter_.WaitForStarted(1));
  // While block 0 is stuck, the engine finishes blocks 1 and 2.
  uploader->Offer(Checkpoint('0', 0));
  uploader->Offer(Block('b', 1));
  uploader->Offer(Checkpoint('1', 1));
  uploader->Offer(Block('c', 2));
  uploader->Offer(Checkpoint('2', 2));
  reporter_.Release();
  ASSERT_TRUE(reporter_.WaitForStarted(5));
  const CheckpointUploadStats stats = uploader->Finish(/*flush=*/true);
  // No block part is dropped; a streams part goes only after the block
  // parts it names. Streams 0 became eligible with block 0 and went before
  // the queued blocks (the commit point moves despite the backlog); streams
  // 1 was superseded by 2, which went once block 2 was up.
  EXPECT_THAT(reporter_.Started(), ElementsAre(Blob('a'), Blob('0'), Blob('b'),
                                               Blob('c'), Blob('2')));
  EXPECT_THAT(reporter_.names, ElementsAre("checkpoint/block-00000.safetensors",
                                           "checkpoint/streams.safetensors",
                                           "checkpoint/block-00001.safetensors",
                                           "checkpoint/block-00002.safetensors",
                                           "checkpoint/streams.safetensors"));
  EXPECT_EQ(stats.uploaded, 5u);
  EXPECT_EQ(stats.superseded, 1u);
  EXPECT_EQ(stats.failed, 0u);
  EXPECT_EQ(stats.last_uploaded_block, 2u);
  EXPECT_EQ(stats.bytes_uploaded, 3 * 100u + 2 * 10u);
}

TEST_F(CheckpointUploaderTest, OnlyTheStreamsPartWaitsForTheInterval) {
  auto uploader = Make(absl::Hours(1));
  uploader->Start();
  uploader->Offer(Block('a', 0));
  uploader->Offer(Checkpoint('0', 0));
  ASSERT_TRUE(reporter_.WaitForStarted(2));  // The first streams goes at once.
  uploader->Offer(Block('b', 1));
  uploader->Offer(Checkpoint('1', 1));
  uploader->Offer(Block('c', 2));
  uploader->Offer(Checkpoint('2', 2));
  // Within the hour, the block parts still go; the streams part waits.
  ASSERT_TRUE(reporter_.WaitForStarted(4));
  EXPECT_THAT(reporter_.Started(),
              ElementsAre(Blob('a'), Blob('0'), Blob('b'), Blob('c')));
  const CheckpointUploadStats stats = uploader->Finish(/*flush=*/true);
  EXPECT_THAT(reporter_.Started(), ElementsAre(Blob('a'), Blob('0'), Blob('b'),
                                               Blob('c'), Blob('2')));
  EXPECT_EQ(stats.uploaded, 5u);
  EXPECT_EQ(stats.superseded, 1u);
  EXPECT_EQ(stats.last_uploaded_block, 2u);
}

TEST_F(CheckpointUploaderTest, FinishWithoutFlushDropsQueuedBlockParts) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / "checkpoint_uploader_drop";
  std::filesystem::create_directories(dir);
  auto pinned = [&](EngineFile file) {
    file.path = (dir / file.sha256_hex.substr(0, 1)).string();
    std::ofstream(file.path) << "part";
    file.pinned = true;
    return file;
  };
  // Never started: everything offered is still queued at Finish().
  auto uploader = Make(absl::ZeroDuration());
  uploader->Offer(pinned(Block('a', 0)));
  uploader->Offer(pinned(Checkpoint('0', 0)));
  uploader->Offer(pinned(Block('b', 1)));
  uploader->Offer(pinned(Checkpoint('1', 1)));
  const CheckpointUploadStats stats = uploader->Finish(/*flush=*/false);
  EXPECT_TRUE(reporter_.Started().empty());
  EXPECT_EQ(stats.uploaded, 0u);
  EXPECT_EQ(stats.superseded, 4u);
  EXPECT_TRUE(std::filesystem::is_empty(dir));
}

TEST_F(CheckpointUploaderTest, NoStreamsPartFollowsALostBlockPart) {
  reporter_.failing_blobs = {Blob('b')};
  auto uploader = Make(absl::ZeroDuration());
  uploader->Start();
  uploader->Offer(Block('a', 0));
  uploader->Offer(Checkpoint('0', 0));
  ASSERT_TRUE(reporter_.WaitForStarted(2));
  uploader->Offer(Block('b', 1));  // Fails.
  uploader->Offer(Checkpoint('1', 1));
  uploader->Offer(Block('c', 2));
  uploader->Offer(Checkpoint('2', 2));
  const CheckpointUploadStats stats = uploader->Finish(/*flush=*/true);
  // Streams 0 names only block 0, which arrived; later ones would name
  // block 1, which the scheduler lacks.
  EXPECT_THAT(reporter_.Started(),
              ElementsAre(Blob('a'), Blob('0'), Blob('b'), Blob('c')));
  EXPECT_EQ(stats.uploaded, 3u);
  EXPECT_EQ(stats.last_uploaded_block, 0u);
  EXPECT_GE(stats.failed, 2u);  // Block 1 and the streams after it.
  EXPECT_EQ(stats.uploaded + stats.superseded + stats.failed, 6u);
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_EQ(errors_[0].code(), absl::StatusCode::kUnavailable);
}

TEST_F(CheckpointUploaderTest, RemovesPinnedFilesOnceDone) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / "checkpoint_uploader";
  std::filesystem::create_directories(dir);
  auto pinned = [&](char hex, uint32_t block) {
    const std::filesystem::path path = dir / std::string(1, hex);
    std::ofstream(path) << "checkpoint";
    EngineFile file = Checkpoint(hex, block, path.string());
    file.pinned = true;
    return file;
  };
  EngineFile unpinned = Checkpoint('u', 3, (dir / "u").string());
  std::ofstream(unpinned.path) << "engine's own";
  auto uploader = Make(absl::Hours(1));
  uploader->Start();
  uploader->Offer(pinned('a', 0));
  ASSERT_TRUE(reporter_.WaitForStarted(1));
  uploader->Offer(pinned('b', 1));  // Superseded by the next one.
  uploader->Offer(pinned('c', 2));  // Dropped by Finish(false).
  uploader->Offer(unpinned);
  EngineFile block = pinned('d', 3);  // Sent at once, or dropped.
  block.part = CheckpointPart::kBlock;
  uploader->Offer(block);
  uploader->Finish(/*flush=*/false);
  EXPECT_FALSE(std::filesystem::exists(dir / "a"));
  EXPECT_FALSE(std::filesystem::exists(dir / "b"));
  EXPECT_FALSE(std::filesystem::exists(dir / "c"));
  EXPECT_FALSE(std::filesystem::exists(dir / "d"));
  EXPECT_TRUE(std::filesystem::exists(unpinned.path));
}

TEST_F(CheckpointUploaderTest, AChangedFileIsSupersededAndOtherErrorsReported) {
  reporter_.status = absl::DataLossError("sha256 differs");
  auto uploader = Make(absl::ZeroDuration());
  uploader->Start();
  uploader->Offer(Checkpoint('a', 0));
  ASSERT_TRUE(reporter_.WaitForStarted(1));
  CheckpointUploadStats stats = uploader->Finish(/*flush=*/true);
  EXPECT_EQ(stats.superseded, 1u);
  EXPECT_EQ(stats.failed, 0u);
  EXPECT_FALSE(stats.last_uploaded_block.has_value());
  EXPECT_TRUE(errors_.empty());

  reporter_.status = absl::FailedPreconditionError("stale fencing token");
  auto second = Make(absl::ZeroDuration());
  second->Start();
  second->Offer(Checkpoint('b', 1));
  stats = second->Finish(/*flush=*/true);
  EXPECT_EQ(stats.failed, 1u);
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_EQ(errors_[0].code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(CheckpointUploaderTest, InterruptedTransfersEndTheUploadInProgress) {
  reporter_.hold = true;
  auto uploader = Make(absl::ZeroDuration());
  uploader->Start();
  uploader->Offer(Checkpoint('a', 0));
  ASSERT_TRUE(reporter_.WaitForStarted(1));
  reporter_.InterruptTransfers();
  const CheckpointUploadStats stats = uploader->Finish(/*flush=*/false);
  EXPECT_EQ(stats.uploaded, 0u);
  EXPECT_EQ(stats.failed, 1u);
}

}  // namespace
}  // namespace quantd::agent
