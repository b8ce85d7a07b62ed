// Blob transfers against a real quantd: an upload whose bytes do not match
// its declared hash is rejected and leaves nothing visible; an interrupted
// download resumes by offset and the bytes hash to the advertised sha256;
// artifacts uploaded under a lease are listed and downloadable.
#include <filesystem>
#include <random>

#include "common/sha256.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "tests/integration/scheduler/quantd_process.h"
#include "tests/integration/scheduler/test_clients.h"

namespace quantd::testing {
namespace {

namespace fs = std::filesystem;
namespace v1 = quantd::v1;

std::string RandomBytes(size_t size, uint32_t seed) {
  std::mt19937 random(seed);
  std::string data(size, '\0');
  for (char& c : data) c = static_cast<char>(random());
  return data;
}

absl::StatusOr<v1::UploadBlobResponse> Upload(JobClient& client,
                                              const std::string& declared_hex,
                                              uint64_t declared_size,
                                              const std::string& data) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(30));
  v1::UploadBlobResponse response;
  auto writer = client.stub()->UploadBlob(&context, &response);
  v1::UploadBlobChunk header;
  header.mutable_header()->set_blob(BlobRef(declared_hex));
  header.mutable_header()->set_size_bytes(declared_size);
  header.mutable_header()->set_kind("model");
  writer->Write(header);
  for (size_t offset = 0; offset < data.size(); offset += 100000) {
    v1::UploadBlobChunk chunk;
    chunk.set_data(data.substr(offset, 100000));
    if (!writer->Write(chunk)) break;
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (!status.ok()) return FromGrpc(status);
  return response;
}

// Downloads from `offset`, stopping (cancelling) after `max_chunks`.
absl::StatusOr<std::string> Download(JobClient& client,
                                     const v1::DownloadArtifactRequest& request,
                                     size_t max_chunks,
                                     v1::DownloadArtifactChunk* last) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(30));
  auto reader = client.stub()->DownloadArtifact(&context, request);
  std::string data;
  v1::DownloadArtifactChunk chunk;
  size_t chunks = 0;
  uint64_t expected_offset = request.offset();
  while (chunks < max_chunks && reader->Read(&chunk)) {
    if (chunk.offset() != expected_offset) {
      return absl::DataLossError("chunk offset out of order");
    }
    expected_offset += chunk.data().size();
    data += chunk.data();
    *last = chunk;
    ++chunks;
  }
  if (chunks == max_chunks) context.TryCancel();
  while (reader->Read(&chunk)) {
  }
  grpc::Status status = reader->Finish();
  if (chunks < max_chunks && !status.ok()) return FromGrpc(status);
  return data;
}

size_t FilesUnder(const fs::path& dir) {
  size_t count = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    count += entry.is_regular_file() ? 1 : 0;
  }
  return count;
}

class TransferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto process = QuantdProcess::Start(scratch_.path() + "/q",
                                        {"--store.sqlite_synchronous=normal"});
    ASSERT_TRUE(process.ok()) << process.status();
    quantd_ = std::move(*process);
    client_ = std::make_unique<JobClient>(quantd_->Channel());
  }
  ScratchDir scratch_;
  std::unique_ptr<QuantdProcess> quantd_;
  std::unique_ptr<JobClient> client_;
};

TEST_F(TransferTest, WrongHashIsRejectedAndLeavesNothing) {
  const std::string data = RandomBytes(300000, 1);
  const std::string claimed = Sha256Hex("something else");
  auto upload = Upload(*client_, claimed, data.size(), data);
  EXPECT_EQ(upload.status().code(), absl::StatusCode::kDataLoss);
  auto short_upload = Upload(*client_, Sha256Hex(data), data.size() + 1, data);
  EXPECT_EQ(short_upload.status().code(), absl::StatusCode::kInvalidArgument);
  const fs::path blobs = scratch_.path() + "/q/data/blobs";
  EXPECT_EQ(FilesUnder(blobs), 0u);
  v1::DownloadArtifactChunk last;
  for (const std::string& hex : {claimed, Sha256Hex(data)}) {
    v1::DownloadArtifactRequest request;
    request.set_blob(BlobRef(hex));
    EXPECT_EQ(Download(*client_, request, 100, &last).status().code(),
              absl::StatusCode::kNotFound);
  }
}

TEST_F(TransferTest, InterruptedDownloadResumesByOffset) {
  const std::string data = RandomBytes(3'000'000, 2);
  auto upload = Upload(*client_, Sha256Hex(data), data.size(), data);
  ASSERT_TRUE(upload.ok()) << upload.status();
  EXPECT_FALSE(upload->already_present());
  auto again = Upload(*client_, Sha256Hex(data), data.size(), data);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->already_present());

  v1::DownloadArtifactRequest request;
  request.set_blob(upload->blob());
  request.set_chunk_size_bytes(64 * 1024);
  v1::DownloadArtifactChunk last;
  auto head = Download(*client_, request, 10, &last);
  ASSERT_TRUE(head.ok()) << head.status();
  ASSERT_EQ(head->size(), 10u * 64 * 1024);
  EXPECT_EQ(last.total_size_bytes(), data.size());
  EXPECT_EQ(last.blob(), BlobRef(Sha256Hex(data)));

  request.set_offset(head->size());
  auto tail = Download(*client_, request, 1000000, &last);
  ASSERT_TRUE(tail.ok()) << tail.status();
  EXPECT_EQ(Sha256Hex(*head + *tail), Sha256Hex(data));
  EXPECT_EQ(BlobRef(Sha256Hex(*head + *tail)), last.blob());

  request.set_offset(data.size() + 1);
  EXPECT_EQ(Download(*client_, request, 10, &last).status().code(),
            absl::StatusCode::kOutOfRange);
}

TEST_F(TransferTest, ArtifactsUploadedUnderALeaseAreListedAndDownloadable) {
  const std::string model_dir = scratch_.path() + "/models/tiny";
  WriteTinyModel(model_dir);
  quantd_->Kill();
  auto process =
      QuantdProcess::Start(scratch_.path() + "/q",
                           {"--allowed-root=" + scratch_.path() + "/models"});
  ASSERT_TRUE(process.ok()) << process.status();
  quantd_ = std::move(*process);
  JobClient jobs(quantd_->Channel());
  auto job = jobs.Submit("with-artifacts", TinySpec(model_dir));
  ASSERT_TRUE(job.ok()) << job.status();
  FakeWorker worker(quantd_->Channel(), "w1");
  ASSERT_TRUE(worker.Register().ok());
  auto lease = worker.Lease(5);
  ASSERT_TRUE(lease.ok() && lease->has_value());
  const std::string report = "{\"perplexity\": 10.5}";
  auto artifact =
      worker.UploadArtifact(**lease, "report.json", "report", report);
  ASSERT_TRUE(artifact.ok()) << artifact.status();
  auto bad = worker.UploadArtifact(**lease, "../escape", "report", report);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);

  v1::DownloadArtifactRequest request;
  request.set_job_id(job->id());
  request.set_name("report.json");
  v1::DownloadArtifactChunk last;
  auto data = Download(jobs, request, 100, &last);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(*data, report);
}

}  // namespace
}  // namespace quantd::testing
