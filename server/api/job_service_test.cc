// SubmitJob's blocking part (the model read, then the commit) runs on its
// own HandlerPool, off gRPC's callback threads: 50 concurrent submits whose
// model reads are held do not stall a GetJob or a ListJobs. An in-process
// QuantdServer on loopback (SQLite store, blob store and a tiny model in a
// temporary directory) whose scheduler reads models through a gate: each
// read waits until the test opens it, so the test orders events and never
// measures time (the one-minute waits only keep a regression from hanging).
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "quantd/v1/jobs.grpc.pb.h"
#include "server/api/quantd_server.h"
#include "server/artifacts/blob_store.h"
#include "server/scheduler/clock.h"
#include "server/scheduler/scheduler.h"
#include "server/store/sqlite_store.h"
#include "server/tenancy/tenant_storage.h"
#include "spdlog/sinks/null_sink.h"

namespace quantd::api {
namespace {

namespace fs = std::filesystem;
namespace v1 = quantd::v1;

constexpr int kSubmits = 50;
constexpr int kSubmitThreads = 4;
// Only a guard against a regression hanging the suite.
constexpr absl::Duration kHangGuard = absl::Minutes(1);

// Holds every model read while closed; counts the reads it holds.
class ReadGate {
 public:
  absl::StatusOr<scheduler::ModelInfo> Inspect(const std::string& path,
                                               const std::string& field) {
    {
      absl::MutexLock lock(&mu_);
      ++held_;
      mu_.Await(absl::Condition(&open_));
      --held_;
    }
    return scheduler::InspectModel(path, field);
  }
  void Set(bool open) {
    absl::MutexLock lock(&mu_);
    open_ = open;
  }
  // True once `count` reads are held at the same time.
  bool AwaitHeld(int count) {
    absl::MutexLock lock(&mu_);
    want_ = count;
    return mu_.AwaitWithTimeout(
        absl::Condition(
            +[](ReadGate* gate) { return gate->Enough(); }, this),
        kHangGuard);
  }
  int held() {
    absl::MutexLock lock(&mu_);
    return held_;
  }

 private:
  bool Enough() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return held_ >= want_;
  }

  absl::Mutex mu_;
  bool open_ ABSL_GUARDED_BY(mu_) = true;
  int held_ ABSL_GUARDED_BY(mu_) = 0;
  int want_ ABSL_GUARDED_BY(mu_) = 0;
};

// Counts finished asynchronous calls.
class Finished {
 public:
  void Add() {
    absl::MutexLock lock(&mu_);
    ++count_;
  }
  int count() {
    absl::MutexLock lock(&mu_);
    return count_;
  }
  bool AwaitCount(int count) {
    absl::MutexLock lock(&mu_);
    want_ = count;
    return mu_.AwaitWithTimeout(
        absl::Condition(
            +[](Finished* done) { return done->Enough(); }, this),
        kHangGuard);
  }

 private:
  bool Enough() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return count_ >= want_;
  }

  absl::Mutex mu_;
  int count_ ABSL_GUARDED_BY(mu_) = 0;
  int want_ ABSL_GUARDED_BY(mu_) = 0;
};

// One asynchronous SubmitJob.
struct SubmitCall {
  grpc::ClientContext context;
  v1::SubmitJobRequest request;
  v1::Job job;
  grpc::Status status;
};

class JobServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("job_service_test." + std::to_string(::getpid()));
    fs::remove_all(dir_);
    model_dir_ = dir_ / "models" / "tiny";
    fs::create_directories(model_dir_);
    std::ofstream(model_dir_ / "config.json")
        << R"({"model_type": "llama", "hidden_size": 64,
               "intermediate_size": 128, "num_hidden_layers": 2,
               "vocab_size": 100})";
    std::ofstream(model_dir_ / "model.safetensors") << std::string(4096, '\0');
    auto store =
        store::SqliteJobStore::Open({.path = (dir_ / "quantd.db").string()});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto blobs = artifacts::BlobStore::Open((dir_ / "blobs").string());
    ASSERT_TRUE(blobs.ok()) << blobs.status();
    blobs_ = std::move(*blobs);
    const std::string models = (dir_ / "models").string();
    auto roots = scheduler::AllowedRoots::Create({models});
    ASSERT_TRUE(roots.ok()) << roots.status();
    auto sandbox = tenancy::InputSandbox::Create({models});
    ASSERT_TRUE(sandbox.ok()) << sandbox.status();
    storage_ = std::make_unique<tenancy::TenantStorage>(
        store_.get(), blobs_.get(),
        tenancy::StorageOptions{.sandbox = *sandbox});
    auto log = std::make_shared<spdlog::logger>(
        "api", std::make_shared<spdlog::sinks::null_sink_mt>());
    scheduler_ = std::make_unique<scheduler::Scheduler>(
        store_.get(), &clock_, scheduler::SchedulerOptions{}, *roots, nullptr,
        log);
    scheduler_->SetSubmitPolicy(
        [this](const std::string& tenant, const v1::JobSpec& spec) {
          return storage_->CheckJob(tenant, spec);
        });
    scheduler_->SetModelInspector(
        [this](const std::string& path, const std::string& field) {
          return gate_.Inspect(path, field);
        });
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.storage = storage_.get();
    options.submit_pool.threads = kSubmitThreads;
    auto server = QuantdServer::Start(options, scheduler_.get(), blobs_.get(),
                                      nullptr, log);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    stub_ = v1::JobService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                            grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    // Held submits would hold up the shutdown, and their calls must end
    // before they are destroyed.
    gate_.Set(true);
    EXPECT_TRUE(submitted_.AwaitCount(static_cast<int>(calls_.size())));
    if (server_ != nullptr) server_->Shutdown(absl::ZeroDuration());
    server_.reset();
    scheduler_.reset();
    fs::remove_all(dir_);
  }

  v1::SubmitJobRequest SubmitRequest(const std::string& request_id) const {
    v1::SubmitJobRequest request;
    request.set_request_id(request_id);
    v1::JobSpec& spec = *request.mutable_spec();
    spec.mutable_model()->set_uri("file://" + model_dir_.string());
    spec.set_method("rtn");
    spec.mutable_scheme()->set_preset("w8a8");
    spec.mutable_calibration()->set_n_samples(4);
    spec.mutable_calibration()->set_seq_len(64);
    return request;
  }

  static void Bound(grpc::ClientContext& context) {
    context.set_deadline(std::chrono::system_clock::now() +
                         absl::ToChronoSeconds(kHangGuard));
  }

  fs::path dir_;
  fs::path model_dir_;
  ReadGate gate_;
  scheduler::FakeClock clock_;
  std::unique_ptr<store::SqliteJobStore> store_;
  std::unique_ptr<artifacts::BlobStore> blobs_;
  std::unique_ptr<tenancy::TenantStorage> storage_;
  std::unique_ptr<scheduler::Scheduler> scheduler_;
  std::unique_ptr<QuantdServer> server_;
  std::unique_ptr<v1::JobService::Stub> stub_;
  std::vector<std::unique_ptr<SubmitCall>> calls_;
  Finished submitted_;
};

TEST_F(JobServiceTest, SlowModelReadsDoNotStallGetJob) {
  grpc::ClientContext first_context;
  Bound(first_context);
  v1::Job first;
  ASSERT_TRUE(
      stub_->SubmitJob(&first_context, SubmitRequest("first"), &first).ok());

  gate_.Set(false);
  for (int i = 0; i < kSubmits; ++i) {
    auto call = std::make_unique<SubmitCall>();
    Bound(call->context);
    call->request = SubmitRequest("slow-" + std::to_string(i));
    SubmitCall* raw = call.get();
    stub_->async()->SubmitJob(&raw->context, &raw->request, &raw->job,
                              [this, raw](grpc::Status status) {
                                raw->status = std::move(status);
                                submitted_.Add();
                              });
    calls_.push_back(std::move(call));
  }
  // Every submit thread is inside a model read; the other submits queue.
  ASSERT_TRUE(gate_.AwaitHeld(kSubmitThreads));

  grpc::ClientContext get_context;
  Bound(get_context);
  v1::GetJobRequest get;
  get.set_id(first.id());
  v1::Job got;
  const grpc::Status get_status = stub_->GetJob(&get_context, get, &got);
  ASSERT_TRUE(get_status.ok()) << get_status.error_message();
  EXPECT_EQ(got.id(), first.id());
  grpc::ClientContext list_context;
  Bound(list_context);
  v1::ListJobsResponse listed;
  ASSERT_TRUE(
      stub_->ListJobs(&list_context, v1::ListJobsRequest(), &listed).ok());
  EXPECT_EQ(listed.jobs_size(), 1) << "no held submit has committed";
  // Both answered while every submit was still in flight and the reads
  // still held.
  EXPECT_EQ(submitted_.count(), 0);
  EXPECT_EQ(gate_.held(), kSubmitThreads);

  gate_.Set(true);
  ASSERT_TRUE(submitted_.AwaitCount(kSubmits));
  std::set<std::string> ids;
  for (const auto& call : calls_) {
    EXPECT_TRUE(call->status.ok()) << call->status.error_message();
    ids.insert(call->job.id());
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kSubmits));
  EXPECT_EQ(ids.count(first.id()), 0u);
}

}  // namespace
}  // namespace quantd::api
