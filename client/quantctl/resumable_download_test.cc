#include "client/quantctl/resumable_download.h"

#include <unistd.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "common/sha256.h"
#include "gtest/gtest.h"

namespace quantd::client {
namespace {

namespace fs = std::filesystem;

class FakeChunks : public ChunkStream {
 public:
  FakeChunks(std::deque<quantd::v1::DownloadArtifactChunk> chunks,
             absl::Status end)
      : chunks_(std::move(chunks)), end_(std::move(end)) {}
  bool Read(quantd::v1::DownloadArtifactChunk* chunk) override {
    if (chunks_.empty()) return false;
    *chunk = chunks_.front();
    chunks_.pop_front();
    return true;
  }
  absl::Status Finish() override { return end_; }

 private:
  std::deque<quantd::v1::DownloadArtifactChunk> chunks_;
  absl::Status end_;
};

// Serves `content` in `chunk_bytes` pieces from any offset; each stream
// breaks after `chunks_per_stream` chunks (0: never).
struct FakeBlobServer {
  std::string content;
  size_t chunk_bytes = 100;
  size_t chunks_per_stream = 0;
  std::string blob_override;
  std::vector<uint64_t> offsets;

  std::unique_ptr<ChunkStream> Open(uint64_t offset) {
    offsets.push_back(offset);
    if (offset > content.size()) {
      return std::make_unique<FakeChunks>(
          std::deque<quantd::v1::DownloadArtifactChunk>{},
          absl::OutOfRangeError("offset past the end"));
    }
    std::deque<quantd::v1::DownloadArtifactChunk> chunks;
    const std::string blob =
        blob_override.empty() ? BlobRef(Sha256Hex(content)) : blob_override;
    for (uint64_t at = offset; at < content.size(); at += chunk_bytes) {
      if (chunks_per_stream != 0 && chunks.size() == chunks_per_stream) {
        return std::make_unique<FakeChunks>(
            chunks, absl::UnavailableError("connection reset"));
      }
      quantd::v1::DownloadArtifactChunk chunk;
      chunk.set_offset(at);
      chunk.set_data(content.substr(at, chunk_bytes));
      chunk.set_total_size_bytes(content.size());
      chunk.set_blob(blob);
      chunks.push_back(chunk);
    }
    return std::make_unique<FakeChunks>(chunks, absl::OkStatus());
  }
  ChunkStreamOpener Opener() {
    return [this](uint64_t offset) { return Open(offset); };
  }
};

class ResumableDownloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("quantctl_download_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::mt19937 random(42);
    for (int i = 0; i < 1050; ++i) content_ += static_cast<char>(random());
    options_.sleep = [](absl::Duration) {};
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Read(const fs::path& path) {
    std::ifstream file(path, std::ios::binary);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
  }
  DownloadTarget Target() {
    return {(dir_ / "model.bin").string(), BlobRef(Sha256Hex(content_)),
            content_.size()};
  }

  fs::path dir_;
  std::string content_;
  DownloadOptions options_;
};

TEST_F(ResumableDownloadTest, DownloadsAndVerifies) {
  FakeBlobServer server{content_};
  uint64_t last_progress = 0;
  options_.on_progress = [&](uint64_t done, uint64_t total) {
    EXPECT_EQ(total, content_.size());
    last_progress = done;
  };
  const auto outcome = DownloadResumable(server.Opener(), Target(), options_);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(*outcome, DownloadOutcome::kDownloaded);
  EXPECT_EQ(Read(dir_ / "model.bin"), content_);
  EXPECT_FALSE(fs::exists(dir_ / "model.bin.part"));
  EXPECT_EQ(last_progress, content_.size());
}

TEST_F(ResumableDownloadTest, ResumesFromThePartFileAfterDrops) {
  {
    std::ofstream part(dir_ / "model.bin.part", std::ios::binary);
    part << content_.substr(0, 250);
  }
  FakeBlobServer server{content_, 100, /*chunks_per_stream=*/3};
  const auto outcome = DownloadResumable(server.Opener(), Target(), options_);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(*outcome, DownloadOutcome::kResumed);
  EXPECT_EQ(Read(dir_ / "model.bin"), content_);
  EXPECT_EQ(server.offsets, (std::vector<uint64_t>{250, 550, 850}));
}

TEST_F(ResumableDownloadTest, SkipsAFileThatAlreadyMatches) {
  {
    std::ofstream file(dir_ / "model.bin", std::ios::binary);
    file << content_;
  }
  FakeBlobServer server{content_};
  EXPECT_EQ(*DownloadResumable(server.Opener(), Target(), options_),
            DownloadOutcome::kAlreadyPresent);
  EXPECT_TRUE(server.offsets.empty());
}

TEST_F(ResumableDownloadTest, CorruptPartFailsTheHashAndIsRemoved) {
  {
    std::ofstream part(dir_ / "model.bin.part", std::ios::binary);
    part << std::string(300, 'x');
  }
  FakeBlobServer server{content_};
  const auto outcome = DownloadResumable(server.Opener(), Target(), options_);
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(outcome.status().message().find("partial file was removed"),
            absl::string_view::npos);
  EXPECT_FALSE(fs::exists(dir_ / "model.bin.part"));
  EXPECT_FALSE(fs::exists(dir_ / "model.bin"));
  // The next run starts over and succeeds.
  EXPECT_EQ(*DownloadResumable(server.Opener(), Target(), options_),
            DownloadOutcome::kDownloaded);
  EXPECT_EQ(Read(dir_ / "model.bin"), content_);
}

TEST_F(ResumableDownloadTest, ServerSendingAnotherBlobIsDataLoss) {
  FakeBlobServer server{content_};
  server.blob_override = BlobRef(Sha256Hex("something else"));
  const auto outcome = DownloadResumable(server.Opener(), Target(), options_);
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(ResumableDownloadTest, OversizedPartIsDiscarded) {
  {
    std::ofstream part(dir_ / "model.bin.part", std::ios::binary);
    part << content_ << "trailing";
  }
  FakeBlobServer server{content_};
  EXPECT_EQ(*DownloadResumable(server.Opener(), Target(), options_),
            DownloadOutcome::kDownloaded);
  EXPECT_EQ(server.offsets.front(), 0u);
  EXPECT_EQ(Read(dir_ / "model.bin"), content_);
}

TEST_F(ResumableDownloadTest, GivesUpWhenTheStreamKeepsBreaking) {
  FakeBlobServer server{content_, 100, 0};
  int opened = 0;
  options_.max_retries = 2;
  const auto outcome = DownloadResumable(
      [&](uint64_t) {
        ++opened;
        return std::make_unique<FakeChunks>(
            std::deque<quantd::v1::DownloadArtifactChunk>{},
            absl::UnavailableError("down"));
      },
      Target(), options_);
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(opened, 3);
}

}  // namespace
}  // namespace quantd::client
