// Requests that do not parse are INVALID_ARGUMENT naming "request" (not
// gRPC's UNIMPLEMENTED), and refusals of ListArtifacts/DownloadArtifact
// name the request's own fields. An in-process QuantdServer on loopback
// (SQLite store and blob store in a temporary directory), called with raw
// bytes through grpc::GenericStub.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "quantd/v1/jobs.grpc.pb.h"
#include "quantd/v1/worker.grpc.pb.h"
#include "server/api/quantd_server.h"
#include "server/artifacts/blob_store.h"
#include "server/scheduler/clock.h"
#include "server/scheduler/scheduler.h"
#include "server/store/sqlite_store.h"
#include "spdlog/sinks/null_sink.h"

namespace quantd::api {
namespace {

namespace fs = std::filesystem;

// Unknown group 1000 nested 200 deep: past protobuf's recursion limit of
// 100 whatever the message.
std::string TooDeep() {
  std::string bytes;
  for (int i = 0; i < 200; ++i) bytes += "\xc3\x3e";  // start group 1000
  for (int i = 0; i < 200; ++i) bytes += "\xc4\x3e";  // end group 1000
  return bytes;
}

// A tag whose varint never ends.
const std::string kGarbage(16, '\xff');

class ParsedRequestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("parsed_request_test." + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "models");
    auto store =
        store::SqliteJobStore::Open({.path = (dir_ / "quantd.db").string()});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto blobs = artifacts::BlobStore::Open((dir_ / "blobs").string());
    ASSERT_TRUE(blobs.ok()) << blobs.status();
    blobs_ = std::move(*blobs);
    auto roots = scheduler::AllowedRoots::Create({(dir_ / "models").string()});
    ASSERT_TRUE(roots.ok()) << roots.status();
    auto log = std::make_shared<spdlog::logger>(
        "api", std::make_shared<spdlog::sinks::null_sink_mt>());
    scheduler_ = std::make_unique<scheduler::Scheduler>(
        store_.get(), &clock_, scheduler::SchedulerOptions{}, *roots, nullptr,
        log);
    storage_ = std::make_unique<tenancy::TenantStorage>(
        store_.get(), blobs_.get(), tenancy::StorageOptions{});
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.storage = storage_.get();
    auto server = QuantdServer::Start(options, scheduler_.get(), blobs_.get(),
                                      nullptr, log);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    channel_ =
        grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                            grpc::InsecureChannelCredentials());
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(absl::ZeroDuration());
    server_.reset();
    scheduler_.reset();
    queue_.Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (queue_.Next(&tag, &ok)) {
    }
    fs::remove_all(dir_);
  }

  // Sends `bytes` as the request of unary or server-streaming `method`
  // ("/quantd.v1.JobService/GetJob"); returns the call's status.
  grpc::Status Call(const std::string& method, const std::string& bytes) {
    grpc::GenericStub stub(channel_);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(30));
    auto call = stub.PrepareCall(&context, method, &queue_);
    call->StartCall(Tag(1));
    Expect(1);
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1);
    call->Write(request, grpc::WriteOptions().set_last_message(), Tag(2));
    Expect(2);
    // Read until the stream ends (a unary reply is one message, or none).
    grpc::ByteBuffer reply;
    bool ok = true;
    while (ok) {
      call->Read(&reply, Tag(3));
      ok = Next(3);
    }
    grpc::Status status;
    call->Finish(&status, Tag(4));
    Expect(4);
    return status;
  }

  // Sends each of `messages` on client-streaming `method`.
  grpc::Status Stream(const std::string& method,
                      const std::vector<std::string>& messages) {
    grpc::GenericStub stub(channel_);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(30));
    auto call = stub.PrepareCall(&context, method, &queue_);
    call->StartCall(Tag(1));
    Expect(1);
    for (const std::string& bytes : messages) {
      grpc::Slice slice(bytes);
      grpc::ByteBuffer request(&slice, 1);
      call->Write(request, Tag(2));
      if (!Next(2)) break;  // the server already finished
    }
    call->WritesDone(Tag(3));
    Next(3);
    grpc::ByteBuffer reply;
    call->Read(&reply, Tag(4));
    Next(4);
    grpc::Status status;
    call->Finish(&status, Tag(5));
    Expect(5);
    return status;
  }

  static void* Tag(intptr_t n) { return reinterpret_cast<void*>(n); }
  bool Next(intptr_t expected) {
    void* tag = nullptr;
    bool ok = false;
    EXPECT_TRUE(queue_.Next(&tag, &ok));
    EXPECT_EQ(tag, Tag(expected));
    return ok;
  }
  void Expect(intptr_t expected) { EXPECT_TRUE(Next(expected)); }

  fs::path dir_;
  scheduler::FakeClock clock_;
  std::unique_ptr<store::SqliteJobStore> store_;
  std::unique_ptr<artifacts::BlobStore> blobs_;
  std::unique_ptr<tenancy::TenantStorage> storage_;
  std::unique_ptr<scheduler::Scheduler> scheduler_;
  std::unique_ptr<QuantdServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  grpc::CompletionQueue queue_;
};

struct Unparsable {
  const char* method;
  const char* type;
};

TEST_F(ParsedRequestTest, UnparsableRequestIsInvalidArgumentNamingTheType) {
  quantd::v1::SubmitJobRequest submit;
  submit.set_request_id("request-1");
  submit.mutable_spec()->set_method("rtn");
  const std::string valid = submit.SerializeAsString();
  const std::string truncated = valid.substr(0, valid.size() - 2);
  for (const Unparsable& rpc : std::vector<Unparsable>{
           {"/quantd.v1.JobService/SubmitJob", "quantd.v1.SubmitJobRequest"},
           {"/quantd.v1.JobService/GetJob", "quantd.v1.GetJobRequest"},
           {"/quantd.v1.JobService/WatchJob", "quantd.v1.WatchJobRequest"},
           {"/quantd.v1.JobService/DownloadArtifact",
            "quantd.v1.DownloadArtifactRequest"},
           {"/quantd.v1.WorkerGateway/Heartbeat", "quantd.v1.HeartbeatRequest"},
           {"/quantd.v1.WorkerGateway/LeaseJob", "quantd.v1.LeaseJobRequest"},
       }) {
    for (const std::string& bytes : {kGarbage, truncated, TooDeep()}) {
      const grpc::Status status = Call(rpc.method, bytes);
      EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
          << rpc.method << " " << status.error_message();
      EXPECT_EQ(status.error_message(),
                std::string("request: does not parse as ") + rpc.type)
          << rpc.method;
    }
  }
}

TEST_F(ParsedRequestTest, UnparsableStreamMessageIsInvalidArgument) {
  for (const Unparsable& rpc : std::vector<Unparsable>{
           {"/quantd.v1.JobService/UploadBlob", "quantd.v1.UploadBlobChunk"},
           {"/quantd.v1.WorkerGateway/ReportEvents",
            "quantd.v1.ReportEventsRequest"},
           {"/quantd.v1.WorkerGateway/UploadArtifact",
            "quantd.v1.UploadArtifactChunk"},
       }) {
    for (const std::string& bytes : {kGarbage, TooDeep()}) {
      const grpc::Status status = Stream(rpc.method, {bytes});
      EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
          << rpc.method << " " << status.error_message();
      EXPECT_EQ(status.error_message(),
                std::string("request: does not parse as ") + rpc.type)
          << rpc.method;
    }
  }
}

// A method added to a service but not to its ParseCheck would answer
// UNIMPLEMENTED again.
TEST_F(ParsedRequestTest, EveryMethodOfBothServicesIsChecked) {
  for (const char* name : {"quantd.v1.JobService", "quantd.v1.WorkerGateway"}) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
            name);
    ASSERT_NE(service, nullptr) << name;
    for (int i = 0; i < service->method_count(); ++i) {
      const google::protobuf::MethodDescriptor* method = service->method(i);
      const std::string path =
          "/" + service->full_name() + "/" + method->name();
      const grpc::Status status = method->client_streaming()
                                      ? Stream(path, {kGarbage})
                                      : Call(path, kGarbage);
      EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
          << path << " " << status.error_message();
      EXPECT_EQ(status.error_message(), "request: does not parse as " +
                                            method->input_type()->full_name())
          << path;
    }
  }
}

TEST_F(ParsedRequestTest, ValidRequestStillReachesTheHandler) {
  quantd::v1::GetJobRequest request;
  request.set_id("j-00000000000000000000000000");
  const grpc::Status status =
      Call("/quantd.v1.JobService/GetJob", request.SerializeAsString());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND)
      << status.error_message();
  // Zero bytes are a valid, empty message.
  const grpc::Status empty = Call("/quantd.v1.JobService/GetJob", "");
  EXPECT_EQ(empty.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(empty.error_message(), "id: required");
}

TEST_F(ParsedRequestTest, MissingFieldsAreNamedAsInTheRequest) {
  const grpc::Status list =
      Call("/quantd.v1.JobService/ListArtifacts",
           quantd::v1::ListArtifactsRequest().SerializeAsString());
  EXPECT_EQ(list.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(list.error_message(), "job_id: required");

  const grpc::Status neither =
      Call("/quantd.v1.JobService/DownloadArtifact", "");
  EXPECT_EQ(neither.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(neither.error_message(),
            "job_id: required with name, unless blob is set; neither job_id "
            "nor blob is set");

  quantd::v1::DownloadArtifactRequest no_name;
  no_name.set_job_id("j-00000000000000000000000000");
  const grpc::Status name = Call("/quantd.v1.JobService/DownloadArtifact",
                                 no_name.SerializeAsString());
  EXPECT_EQ(name.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(name.error_message(), "name: required with job_id");
}

TEST_F(ParsedRequestTest, UploadArtifactHeaderErrorsNameHeaderFields) {
  quantd::v1::UploadArtifactChunk chunk;
  chunk.mutable_header()->mutable_artifact()->set_name("model.bin");
  const grpc::Status status = Stream("/quantd.v1.WorkerGateway/UploadArtifact",
                                     {chunk.SerializeAsString()});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "header.job_id: required");
}

}  // namespace
}  // namespace quantd::api
