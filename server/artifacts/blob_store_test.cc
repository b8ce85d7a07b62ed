#include "server/artifacts/blob_store.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>

#include "common/sha256.h"
#include "gtest/gtest.h"

namespace quantd::artifacts {
namespace {

namespace fs = std::filesystem;

class BlobStoreTest : public testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    root_ = fs::path(testing::TempDir()) /
            ("blob_store_" + std::to_string(::getpid()) + "_" +
             std::to_string(counter++));
    fs::remove_all(root_);
    auto store = BlobStore::Open(root_.string());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  void TearDown() override { fs::remove_all(root_); }

  // Writes `data` in chunks of 3 bytes and commits it.
  absl::StatusOr<bool> Put(const std::string& data) {
    auto writer = store_->NewWriter(Sha256Hex(data), data.size());
    if (!writer.ok()) return writer.status();
    for (size_t i = 0; i < data.size(); i += 3) {
      absl::Status status = (*writer)->Append(data.substr(i, 3));
      if (!status.ok()) return status;
    }
    return (*writer)->Commit();
  }

  size_t TempFiles() const {
    size_t n = 0;
    for (const auto& entry : fs::directory_iterator(root_ / "tmp")) {
      (void)entry;
      ++n;
    }
    return n;
  }

  static int64_t NowMillis() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  fs::path root_;
  std::unique_ptr<BlobStore> store_;
};

TEST_F(BlobStoreTest, WritesAndReadsByOffset) {
  const std::string data = "hello, content-addressed world";
  auto put = Put(data);
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_FALSE(*put);
  const std::string hex = Sha256Hex(data);
  EXPECT_TRUE(store_->Contains(hex));
  EXPECT_EQ(*store_->SizeOf(hex), data.size());
  EXPECT_EQ(*store_->Read(hex, 7, 7), "content");
  EXPECT_EQ(*store_->Read(hex, 20, 1000), data.substr(20));
  EXPECT_EQ(*store_->Read(hex, data.size(), 10), "");
  EXPECT_EQ(store_->Read(hex, data.size() + 1, 10).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(*store_->TotalBytes(), data.size());
  EXPECT_EQ(TempFiles(), 0u);
}

TEST_F(BlobStoreTest, SecondCopyIsAlreadyPresent) {
  ASSERT_TRUE(Put("same bytes").ok());
  auto again = Put("same bytes");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(*again);
  EXPECT_EQ(TempFiles(), 0u);
}

TEST_F(BlobStoreTest, WrongHashLeavesNothing) {
  const std::string hex = Sha256Hex("expected");
  auto writer = store_->NewWriter(hex, 8);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Append("tampered").ok());
  EXPECT_EQ((*writer)->Commit().status().code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(store_->Contains(hex));
  EXPECT_FALSE(store_->Contains(Sha256Hex("tampered")));
  EXPECT_EQ(TempFiles(), 0u);
}

TEST_F(BlobStoreTest, WrongSizeLeavesNothing) {
  const std::string hex = Sha256Hex("abc");
  auto writer = store_->NewWriter(hex, 2);
  ASSERT_TRUE(writer.ok());
  EXPECT_EQ((*writer)->Append("abc").code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE((*writer)->Append("ab").ok());
  writer->reset();
  EXPECT_FALSE(store_->Contains(hex));
  EXPECT_EQ(TempFiles(), 0u);

  auto short_writer = store_->NewWriter(hex, 3);
  ASSERT_TRUE(short_writer.ok());
  ASSERT_TRUE((*short_writer)->Append("ab").ok());
  EXPECT_EQ((*short_writer)->Commit().status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(store_->Contains(hex));
}

TEST_F(BlobStoreTest, RejectsMalformedDigests) {
  EXPECT_EQ(store_->NewWriter("../../etc/passwd", 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->SizeOf(std::string(64, 'A')).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->SizeOf(std::string(64, 'a')).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(BlobStoreTest, GarbageCollectionKeepsReferencedAndRecentBlobs) {
  ASSERT_TRUE(Put("keep me").ok());
  ASSERT_TRUE(Put("drop me").ok());
  const std::string keep = Sha256Hex("keep me");
  const std::string drop = Sha256Hex("drop me");
  auto kept_only = [&](const std::string& hex) { return hex == keep; };

  auto report = store_->CollectGarbage(kept_only, NowMillis(), 3600);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->removed_blobs, 0u) << "both are younger than retention";

  report = store_->CollectGarbage(kept_only, NowMillis() + 7200 * 1000, 3600);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->removed_blobs, 1u);
  EXPECT_EQ(report->removed_bytes, 7u);
  EXPECT_TRUE(store_->Contains(keep));
  EXPECT_FALSE(store_->Contains(drop));
}

TEST_F(BlobStoreTest, GarbageCollectionRemovesStaleTempFiles) {
  auto writer = store_->NewWriter(Sha256Hex("x"), 1);
  ASSERT_TRUE(writer.ok());
  EXPECT_EQ(TempFiles(), 1u);
  auto report = store_->CollectGarbage([](const std::string&) { return true; },
                                       NowMillis() + 10'000, 1);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->removed_temp_files, 1u);
}

}  // namespace
}  // namespace quantd::artifacts
