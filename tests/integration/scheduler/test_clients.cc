#include "tests/integration/scheduler/test_clients.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "grpcpp/client_context.h"

namespace quantd::testing {
namespace {

namespace v1 = quantd::v1;

// Every call is bounded so a hung server fails the test instead of it.
void Bound(grpc::ClientContext& context, int seconds = 30) {
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(seconds));
}

}  // namespace

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

void WriteTinyModel(const std::string& dir) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/config.json")
      << "{\"model_type\": \"llama\", \"hidden_size\": 64, "
         "\"intermediate_size\": 128, \"num_hidden_layers\": 2, "
         "\"vocab_size\": 100}";
  std::ofstream(dir + "/model.safetensors") << std::string(4096, '\0');
}

v1::JobSpec TinySpec(const std::string& model_dir) {
  v1::JobSpec spec;
  spec.mutable_model()->set_uri("file://" + model_dir);
  spec.set_method("rtn");
  spec.mutable_scheme()->set_preset("w8a8");
  spec.mutable_calibration()->set_n_samples(4);
  spec.mutable_calibration()->set_seq_len(64);
  return spec;
}

absl::StatusOr<v1::Job> JobClient::Submit(const std::string& request_id,
                                          const v1::JobSpec& spec) {
  grpc::ClientContext context;
  Bound(context);
  v1::SubmitJobRequest request;
  request.set_request_id(request_id);
  *request.mutable_spec() = spec;
  v1::Job job;
  grpc::Status status = stub_->SubmitJob(&context, request, &job);
  if (!status.ok()) return FromGrpc(status);
  return job;
}

absl::Status JobClient::SubmitForError(const v1::JobSpec& spec,
                                       std::string* error_field) {
  grpc::ClientContext context;
  Bound(context);
  v1::SubmitJobRequest request;
  request.set_request_id("invalid");
  *request.mutable_spec() = spec;
  v1::Job job;
  grpc::Status status = stub_->SubmitJob(&context, request, &job);
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find("quantd-error-bin");
  if (it != trailers.end()) {
    v1::ErrorInfo error;
    error.ParseFromString(std::string(it->second.data(), it->second.size()));
    *error_field = error.field();
  }
  return FromGrpc(status);
}

absl::StatusOr<v1::Job> JobClient::Get(const std::string& id) {
  grpc::ClientContext context;
  Bound(context);
  v1::GetJobRequest request;
  request.set_id(id);
  v1::Job job;
  grpc::Status status = stub_->GetJob(&context, request, &job);
  if (!status.ok()) return FromGrpc(status);
  return job;
}

absl::StatusOr<v1::Job> JobClient::Cancel(const std::string& id) {
  grpc::ClientContext context;
  Bound(context);
  v1::CancelJobRequest request;
  request.set_id(id);
  request.set_reason("test");
  v1::Job job;
  grpc::Status status = stub_->CancelJob(&context, request, &job);
  if (!status.ok()) return FromGrpc(status);
  return job;
}

absl::StatusOr<v1::ListJobsResponse> JobClient::List(
    const v1::ListJobsRequest& request) {
  grpc::ClientContext context;
  Bound(context);
  v1::ListJobsResponse response;
  grpc::Status status = stub_->ListJobs(&context, request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response;
}

absl::StatusOr<std::vector<std::string>> JobClient::ListAllIds(
    uint32_t page_size) {
  std::vector<std::string> ids;
  v1::ListJobsRequest request;
  request.set_page_size(page_size);
  while (true) {
    auto page = List(request);
    if (!page.ok()) return page.status();
    for (const auto& job : page->jobs()) ids.push_back(job.id());
    if (page->next_page_token().empty()) return ids;
    request.set_page_token(page->next_page_token());
  }
}

absl::StatusOr<std::vector<v1::JobEvent>> JobClient::Watch(
    const std::string& id, uint64_t after_sequence, size_t max_events) {
  grpc::ClientContext context;
  Bound(context);
  v1::WatchJobRequest request;
  request.set_id(id);
  request.set_after_sequence(after_sequence);
  auto reader = stub_->WatchJob(&context, request);
  std::vector<v1::JobEvent> events;
  v1::JobEvent event;
  while (events.size() < max_events && reader->Read(&event)) {
    events.push_back(event);
  }
  if (events.size() >= max_events) {
    context.TryCancel();  // Drop the stream mid-way.
    while (reader->Read(&event)) {
    }
    reader->Finish().ok();
    return events;
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return FromGrpc(status);
  return events;
}

absl::StatusOr<v1::Job> JobClient::WaitForState(const std::string& id,
                                                v1::JobState state) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (true) {
    auto job = Get(id);
    if (!job.ok() || job->state() == state) return job;
    if (std::chrono::steady_clock::now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "job ", id, " stayed ", v1::JobState_Name(job->state())));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

absl::Status FakeWorker::Register(uint64_t device_memory_bytes,
                                  uint32_t max_concurrent_jobs) {
  grpc::ClientContext context;
  Bound(context);
  v1::RegisterWorkerRequest request;
  request.set_worker_id(id_);
  auto* capabilities = request.mutable_capabilities();
  auto* device = capabilities->add_devices();
  device->set_name("cuda:0");
  device->set_memory_bytes(device_memory_bytes);
  capabilities->set_host_memory_bytes(256ull << 30);
  capabilities->set_max_concurrent_jobs(max_concurrent_jobs);
  v1::RegisterWorkerResponse response;
  return FromGrpc(stub_->RegisterWorker(&context, request, &response));
}

absl::StatusOr<std::optional<v1::Lease>> FakeWorker::Lease(
    double wait_seconds) {
  grpc::ClientContext context;
  Bound(context, static_cast<int>(wait_seconds) + 30);
  v1::LeaseJobRequest request;
  request.set_worker_id(id_);
  request.set_wait_seconds(wait_seconds);
  v1::LeaseJobResponse response;
  grpc::Status status = stub_->LeaseJob(&context, request, &response);
  if (!status.ok()) return FromGrpc(status);
  if (!response.has_lease()) return std::nullopt;
  return response.lease();
}

absl::StatusOr<v1::HeartbeatResponse> FakeWorker::Heartbeat(
    const std::vector<v1::Lease>& leases) {
  grpc::ClientContext context;
  Bound(context);
  v1::HeartbeatRequest request;
  request.set_worker_id(id_);
  for (const v1::Lease& lease : leases) {
    auto* held = request.add_leases();
    held->set_job_id(lease.job().id());
    held->set_fencing_token(lease.fencing_token());
  }
  v1::HeartbeatResponse response;
  grpc::Status status = stub_->Heartbeat(&context, request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response;
}

absl::StatusOr<uint64_t> FakeWorker::Report(
    const v1::ReportEventsRequest& request) {
  grpc::ClientContext context;
  Bound(context);
  v1::ReportEventsResponse response;
  auto writer = stub_->ReportEvents(&context, &response);
  writer->Write(request);
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (!status.ok()) return FromGrpc(status);
  return response.last_sequence();
}

absl::StatusOr<uint64_t> FakeWorker::ReportRunning(const v1::Lease& lease) {
  v1::ReportEventsRequest request;
  request.set_job_id(lease.job().id());
  request.set_fencing_token(lease.fencing_token());
  request.add_events()->mutable_state_change()->set_to(v1::JOB_STATE_RUNNING);
  return Report(request);
}

absl::StatusOr<uint64_t> FakeWorker::ReportProgress(const v1::Lease& lease,
                                                    int count) {
  v1::ReportEventsRequest request;
  request.set_job_id(lease.job().id());
  request.set_fencing_token(lease.fencing_token());
  for (int i = 0; i < count; ++i) {
    auto* progress = request.add_events()->mutable_progress();
    progress->set_stage("quantize");
    progress->set_block_index(static_cast<uint32_t>(i));
    progress->set_block_count(static_cast<uint32_t>(count));
    progress->set_fraction(static_cast<double>(i + 1) / count);
  }
  return Report(request);
}

absl::StatusOr<v1::Job> FakeWorker::Complete(const v1::Lease& lease,
                                             v1::JobState state) {
  grpc::ClientContext context;
  Bound(context);
  v1::CompleteJobRequest request;
  request.set_job_id(lease.job().id());
  request.set_fencing_token(lease.fencing_token());
  request.set_state(state);
  if (state == v1::JOB_STATE_SUCCEEDED) {
    request.mutable_result()->set_metric("perplexity");
    request.mutable_result()->set_fp_value(10.0);
    request.mutable_result()->set_quantized_value(10.5);
  }
  v1::CompleteJobResponse response;
  grpc::Status status = stub_->CompleteJob(&context, request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response.job();
}

absl::StatusOr<v1::Artifact> FakeWorker::UploadArtifact(
    const v1::Lease& lease, const std::string& name, const std::string& kind,
    const std::string& data) {
  grpc::ClientContext context;
  Bound(context);
  v1::UploadArtifactResponse response;
  auto writer = stub_->UploadArtifact(&context, &response);
  v1::UploadArtifactChunk header;
  header.mutable_header()->set_job_id(lease.job().id());
  header.mutable_header()->set_fencing_token(lease.fencing_token());
  auto* artifact = header.mutable_header()->mutable_artifact();
  artifact->set_name(name);
  artifact->set_kind(kind);
  artifact->set_blob(BlobRef(Sha256Hex(data)));
  artifact->set_size_bytes(data.size());
  writer->Write(header);
  constexpr size_t kChunk = 64 * 1024;
  for (size_t offset = 0; offset < data.size(); offset += kChunk) {
    v1::UploadArtifactChunk chunk;
    chunk.set_data(data.substr(offset, kChunk));
    if (!writer->Write(chunk)) break;
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (!status.ok()) return FromGrpc(status);
  return response.artifact();
}

}  // namespace quantd::testing
