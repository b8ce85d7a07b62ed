#include "worker/agent/fake_gateway.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/sha256.h"
#include "grpcpp/server_builder.h"

namespace quantd::agent::testing {
namespace {

grpc::Status LeaseLost(const std::string& job_id) {
  return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                      absl::StrCat("lease of ", job_id, " is lost"));
}

grpc::Status CheckToken(const FakeGatewayState& state,
                        const std::string& job_id, uint64_t token) {
  if (state.lost_job_ids.count(job_id) > 0) return LeaseLost(job_id);
  auto it = state.tokens.find(job_id);
  if (it == state.tokens.end() || it->second != token) {
    return LeaseLost(job_id);
  }
  return grpc::Status::OK;
}

}  // namespace

std::vector<const FakeGatewayState::Upload*> FakeGatewayState::AcceptedUploads(
    const std::string& name) const {
  std::vector<const Upload*> found;
  for (const Upload& upload : uploads) {
    if (upload.accepted && upload.header.artifact().name() == name) {
      found.push_back(&upload);
    }
  }
  return found;
}

std::string FakeGatewayState::LogText() const {
  std::vector<std::string> lines;
  for (const auto* list : {&events, &rejected_events}) {
    for (const quantd::v1::JobEvent& event : *list) {
      if (event.has_log()) lines.push_back(event.log().message());
    }
  }
  return absl::StrJoin(lines, "\n");
}

class FakeGateway::WorkerService final
    : public quantd::v1::WorkerGateway::Service {
 public:
  explicit WorkerService(FakeGateway& gateway) : gateway_(gateway) {}

  grpc::Status RegisterWorker(
      grpc::ServerContext*, const quantd::v1::RegisterWorkerRequest*,
      quantd::v1::RegisterWorkerResponse* response) override {
    absl::MutexLock lock(&gateway_.mu_);
    ++gateway_.state_.registrations;
    response->set_heartbeat_interval_seconds(
        gateway_.state_.heartbeat_interval_seconds);
    response->set_lease_timeout_seconds(30);
    return grpc::Status::OK;
  }

  grpc::Status LeaseJob(grpc::ServerContext*,
                        const quantd::v1::LeaseJobRequest* request,
                        quantd::v1::LeaseJobResponse* response) override {
    absl::MutexLock lock(&gateway_.mu_);
    FakeGatewayState& state = gateway_.state_;
    auto has_lease = [&state] { return !state.leases.empty(); };
    gateway_.mu_.AwaitWithTimeout(
        absl::Condition(&has_lease),
        absl::Seconds(std::min(request->wait_seconds(), 1.0)));
    if (state.leases.empty()) return grpc::Status::OK;
    *response->mutable_lease() = state.leases.front();
    state.leases.pop_front();
    state.tokens[response->lease().job().id()] =
        response->lease().fencing_token();
    return grpc::Status::OK;
  }

  grpc::Status Heartbeat(grpc::ServerContext*,
                         const quantd::v1::HeartbeatRequest* request,
                         quantd::v1::HeartbeatResponse* response) override {
    absl::MutexLock lock(&gateway_.mu_);
    FakeGatewayState& state = gateway_.state_;
    ++state.heartbeats;
    state.heartbeat_requests.push_back(*request);
    for (const std::string& id : state.cancel_job_ids) {
      response->add_cancel_job_ids(id);
    }
    for (const std::string& id : state.revoked_job_ids) {
      response->add_revoked_job_ids(id);
    }
    return grpc::Status::OK;
  }

  grpc::Status ReportEvents(
      grpc::ServerContext*,
      grpc::ServerReader<quantd::v1::ReportEventsRequest>* reader,
      quantd::v1::ReportEventsResponse*) override {
    quantd::v1::ReportEventsRequest request;
    grpc::Status status = grpc::Status::OK;
    while (reader->Read(&request)) {
      absl::MutexLock lock(&gateway_.mu_);
      FakeGatewayState& state = gateway_.state_;
      const grpc::Status checked =
          CheckToken(state, request.job_id(), request.fencing_token());
      for (quantd::v1::JobEvent event : request.events()) {
        event.set_job_id(request.job_id());
        (checked.ok() ? state.events : state.rejected_events)
            .push_back(std::move(event));
      }
      if (!checked.ok()) status = checked;
    }
    return status;
  }

  grpc::Status UploadArtifact(
      grpc::ServerContext*,
      grpc::ServerReader<quantd::v1::UploadArtifactChunk>* reader,
      quantd::v1::UploadArtifactResponse* response) override {
    FakeGatewayState::Upload upload;
    quantd::v1::UploadArtifactChunk chunk;
    while (reader->Read(&chunk)) {
      if (chunk.has_header()) {
        upload.header = chunk.header();
      } else {
        upload.data += chunk.data();
      }
    }
    absl::MutexLock lock(&gateway_.mu_);
    FakeGatewayState& state = gateway_.state_;
    grpc::Status status = CheckToken(state, upload.header.job_id(),
                                     upload.header.fencing_token());
    const quantd::v1::Artifact& artifact = upload.header.artifact();
    if (status.ok() && state.failing_uploads > 0) {
      --state.failing_uploads;
      status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "injected");
    } else if (status.ok() &&
               (BlobRef(Sha256Hex(upload.data)) != artifact.blob() ||
                upload.data.size() != artifact.size_bytes())) {
      status = grpc::Status(grpc::StatusCode::DATA_LOSS, "hash mismatch");
    }
    upload.accepted = status.ok();
    if (status.ok()) *response->mutable_artifact() = artifact;
    state.uploads.push_back(std::move(upload));
    return status;
  }

  grpc::Status CompleteJob(grpc::ServerContext*,
                           const quantd::v1::CompleteJobRequest* request,
                           quantd::v1::CompleteJobResponse* response) override {
    absl::MutexLock lock(&gateway_.mu_);
    FakeGatewayState& state = gateway_.state_;
    const grpc::Status status =
        CheckToken(state, request->job_id(), request->fencing_token());
    if (!status.ok()) return status;
    state.completions.push_back(*request);
    response->mutable_job()->set_id(request->job_id());
    response->mutable_job()->set_state(request->state());
    return grpc::Status::OK;
  }

 private:
  FakeGateway& gateway_;
};

class FakeGateway::JobsService final : public quantd::v1::JobService::Service {
 public:
  explicit JobsService(FakeGateway& gateway) : gateway_(gateway) {}

  grpc::Status DownloadArtifact(
      grpc::ServerContext*, const quantd::v1::DownloadArtifactRequest* request,
      grpc::ServerWriter<quantd::v1::DownloadArtifactChunk>* writer) override {
    std::string data;
    {
      absl::MutexLock lock(&gateway_.mu_);
      auto it = gateway_.state_.blobs.find(request->blob());
      if (it == gateway_.state_.blobs.end()) {
        return grpc::Status(grpc::StatusCode::NOT_FOUND, request->blob());
      }
      data = it->second;
    }
    constexpr size_t kChunk = 1000;
    for (size_t offset = request->offset(); offset < data.size();
         offset += kChunk) {
      quantd::v1::DownloadArtifactChunk chunk;
      chunk.set_offset(offset);
      chunk.set_data(data.substr(offset, kChunk));
      chunk.set_total_size_bytes(data.size());
      chunk.set_blob(request->blob());
      if (!writer->Write(chunk)) break;
    }
    return grpc::Status::OK;
  }

 private:
  FakeGateway& gateway_;
};

FakeGateway::FakeGateway()
    : worker_service_(std::make_unique<WorkerService>(*this)),
      jobs_service_(std::make_unique<JobsService>(*this)) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(worker_service_.get());
  builder.RegisterService(jobs_service_.get());
  server_ = builder.BuildAndStart();
  address_ = absl::StrCat("127.0.0.1:", port);
}

FakeGateway::~FakeGateway() {
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
}

void FakeGateway::Update(const std::function<void(FakeGatewayState&)>& edit) {
  absl::MutexLock lock(&mu_);
  edit(state_);
}

bool FakeGateway::WaitUntil(
    const std::function<bool(const FakeGatewayState&)>& ready,
    absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto holds = [&] { return ready(state_); };
  return mu_.AwaitWithTimeout(absl::Condition(&holds), timeout);
}

FakeGatewayState FakeGateway::Snapshot() {
  absl::MutexLock lock(&mu_);
  return state_;
}

}  // namespace quantd::agent::testing
