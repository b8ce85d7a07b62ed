#include "server/tenancy/tenant_storage.h"

#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/sha256.h"
#include "common/status.h"
#include "gtest/gtest.h"
#include "server/store/sqlite_store.h"

namespace quantd::tenancy {
namespace {

namespace fs = std::filesystem;

class TenantStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (fs::temp_directory_path() / "quantd-storage-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    auto store = store::SqliteJobStore::Open({(dir_ / "db").string(), false});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto blobs = artifacts::BlobStore::Open((dir_ / "blobs").string());
    ASSERT_TRUE(blobs.ok()) << blobs.status();
    blobs_ = std::move(*blobs);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string PutBlob(const std::string& data) {
    const std::string hex = Sha256Hex(data);
    auto writer = blobs_->NewWriter(hex, data.size());
    EXPECT_TRUE(writer.ok());
    EXPECT_TRUE((*writer)->Append(data).ok());
    EXPECT_TRUE((*writer)->Commit().ok());
    return hex;
  }
  // A job of `tenant` using `input` and producing `artifact` (hex, size).
  void AddJob(const std::string& id, const std::string& tenant,
              const std::string& input, const std::string& artifact,
              uint64_t artifact_bytes) {
    store::JobRecord job;
    job.id = id;
    job.tenant = tenant;
    job.request_id = id;
    job.input_blobs = {input};
    quantd::v1::JobSpec spec;
    spec.mutable_model()->set_blob(BlobRef(input));
    job.spec = spec.SerializeAsString();
    ASSERT_TRUE(store_->CreateJob(job, {"e"}, 1, 0).ok());
    store::ArtifactRecord record{id,      "out", artifact, artifact_bytes,
                                 "model", 2};
    auto updated = store_->UpdateJob(id, [&](store::JobRecord&) {
      return absl::StatusOr<store::JobUpdate>(
          store::JobUpdate{{"a"}, 2, {record}});
    });
    ASSERT_TRUE(updated.ok()) << updated.status();
  }

  fs::path dir_;
  std::unique_ptr<store::SqliteJobStore> store_;
  std::unique_ptr<artifacts::BlobStore> blobs_;
};

TEST_F(TenantStorageTest, OnlyOwnUploadsAndJobBlobsMayBeUsed) {
  TenantStorage storage(store_.get(), blobs_.get(), {});
  const std::string input = PutBlob("model bytes");
  const std::string output = Sha256Hex("output");
  const std::string uploaded = PutBlob("dataset");
  AddJob("j-1", "acme", input, output, 6);
  storage.RecordUpload("acme", uploaded, 7);

  EXPECT_TRUE(storage.CheckUse("acme", input, "model.blob").ok());
  EXPECT_TRUE(storage.CheckUse("acme", output, "model.blob").ok());
  EXPECT_TRUE(storage.CheckUse("acme", uploaded, "model.blob").ok());
  absl::Status foreign = storage.CheckUse("beta", input, "model.blob");
  absl::Status unknown =
      storage.CheckUse("beta", Sha256Hex("nothing"), "model.blob");
  EXPECT_EQ(FieldOfError(foreign), "model.blob");
  // A foreign blob reads exactly like one that was never stored.
  EXPECT_EQ(foreign.message(), unknown.message());
  EXPECT_EQ(foreign.code(), unknown.code());
}

TEST_F(TenantStorageTest, QuotaCountsDistinctBlobsAndPendingUploads) {
  TenantStorage storage(store_.get(), blobs_.get(),
                        {.max_stored_bytes_per_tenant = 30});
  const std::string input = PutBlob("0123456789");  // 10 bytes
  AddJob("j-1", "acme", input, Sha256Hex("o1"), 5);
  AddJob("j-2", "acme", input, Sha256Hex("o2"), 5);  // same input
  // 10 + 5 + 5 = 20 stored.
  EXPECT_TRUE(storage.CheckQuota("acme", "", 0).ok());
  EXPECT_TRUE(storage.CheckQuota("acme", Sha256Hex("new"), 10).ok());
  absl::Status over = storage.CheckQuota("acme", Sha256Hex("new"), 11);
  EXPECT_EQ(over.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(
      std::string(over.message()).find("limits.max_stored_bytes_per_tenant"),
      std::string::npos);
  // Re-uploading a blob the tenant already stores costs nothing.
  EXPECT_TRUE(storage.CheckQuota("acme", input, 11).ok());

  storage.RecordUpload("acme", Sha256Hex("new"), 10);  // 30 stored
  EXPECT_EQ(storage.CheckQuota("acme", "", 0).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(storage.CheckQuota("beta", "", 0).ok());
}

TEST_F(TenantStorageTest, NoQuotaMeansNoScan) {
  TenantStorage storage(store_.get(), blobs_.get(), {});
  EXPECT_TRUE(storage.CheckQuota("acme", Sha256Hex("x"), 1ull << 60).ok());
}

TEST_F(TenantStorageTest, PendingUploadsExpireAndAreBounded) {
  TenantStorage storage(
      store_.get(), blobs_.get(),
      {.pending = absl::ZeroDuration(), .max_pending_per_tenant = 2});
  storage.RecordUpload("acme", Sha256Hex("a"), 1);
  EXPECT_FALSE(storage.CheckUse("acme", Sha256Hex("a"), "f").ok());

  TenantStorage bounded(store_.get(), blobs_.get(),
                        {.max_pending_per_tenant = 2});
  for (const char* name : {"a", "b", "c"}) {
    bounded.RecordUpload("acme", Sha256Hex(name), 1);
  }
  EXPECT_FALSE(bounded.CheckUse("acme", Sha256Hex("a"), "f").ok());
  EXPECT_TRUE(bounded.CheckUse("acme", Sha256Hex("c"), "f").ok());
}

}  // namespace
}  // namespace quantd::tenancy
