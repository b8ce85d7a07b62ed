// gRPC clients for the scheduler's integration tests: a job client with
// the calls the tests repeat, and a fake worker that speaks the
// WorkerGateway protocol (register, lease, heartbeat, report, upload,
// complete) without running an engine.
//
// Thread-safety: none; one thread drives each object.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "quantd/v1/jobs.grpc.pb.h"
#include "quantd/v1/worker.grpc.pb.h"

namespace quantd::testing {

// absl::Status of a grpc::Status, code and message.
absl::Status FromGrpc(const grpc::Status& status);

// A valid spec for the tiny model directory `model_dir`.
quantd::v1::JobSpec TinySpec(const std::string& model_dir);
// Writes config.json + model.safetensors of a tiny model into `dir`.
void WriteTinyModel(const std::string& dir);

class JobClient {
 public:
  explicit JobClient(std::shared_ptr<grpc::Channel> channel)
      : stub_(quantd::v1::JobService::NewStub(channel)) {}

  absl::StatusOr<quantd::v1::Job> Submit(const std::string& request_id,
                                         const quantd::v1::JobSpec& spec);
  // Like Submit, returning also the field from the quantd-error-bin trailer.
  absl::Status SubmitForError(const quantd::v1::JobSpec& spec,
                              std::string* error_field);
  absl::StatusOr<quantd::v1::Job> Get(const std::string& id);
  absl::StatusOr<quantd::v1::Job> Cancel(const std::string& id);
  absl::StatusOr<quantd::v1::ListJobsResponse> List(
      const quantd::v1::ListJobsRequest& request);
  // Every job id, all pages, in the server's order.
  absl::StatusOr<std::vector<std::string>> ListAllIds(uint32_t page_size);
  // Reads events after `after_sequence` until the stream ends or `max_events`
  // arrived (then the stream is cancelled, like a dropped connection).
  absl::StatusOr<std::vector<quantd::v1::JobEvent>> Watch(
      const std::string& id, uint64_t after_sequence, size_t max_events);
  // Polls until the job is in `state` or 30 s pass.
  absl::StatusOr<quantd::v1::Job> WaitForState(const std::string& id,
                                               quantd::v1::JobState state);
  quantd::v1::JobService::Stub* stub() { return stub_.get(); }

 private:
  std::unique_ptr<quantd::v1::JobService::Stub> stub_;
};

class FakeWorker {
 public:
  FakeWorker(std::shared_ptr<grpc::Channel> channel, std::string id)
      : stub_(quantd::v1::WorkerGateway::NewStub(channel)),
        id_(std::move(id)) {}

  absl::Status Register(uint64_t device_memory_bytes = 80ull << 30,
                        uint32_t max_concurrent_jobs = 1);
  absl::StatusOr<std::optional<quantd::v1::Lease>> Lease(double wait_seconds);
  absl::StatusOr<quantd::v1::HeartbeatResponse> Heartbeat(
      const std::vector<quantd::v1::Lease>& leases);
  // Reports RUNNING, or `events` progress events when given.
  absl::StatusOr<uint64_t> ReportRunning(const quantd::v1::Lease& lease);
  absl::StatusOr<uint64_t> ReportProgress(const quantd::v1::Lease& lease,
                                          int count);
  absl::StatusOr<quantd::v1::Job> Complete(const quantd::v1::Lease& lease,
                                           quantd::v1::JobState state);
  absl::StatusOr<quantd::v1::Artifact> UploadArtifact(
      const quantd::v1::Lease& lease, const std::string& name,
      const std::string& kind, const std::string& data);
  const std::string& id() const { return id_; }

 private:
  absl::StatusOr<uint64_t> Report(
      const quantd::v1::ReportEventsRequest& request);

  std::unique_ptr<quantd::v1::WorkerGateway::Stub> stub_;
  std::string id_;
};

}  // namespace quantd::testing
