#include "server/scheduler/job_codec.h"

#include "server/store/records.h"

namespace quantd::scheduler {

google::protobuf::Timestamp ToTimestamp(int64_t ms) {
  google::protobuf::Timestamp timestamp;
  timestamp.set_seconds(ms / 1000);
  timestamp.set_nanos(static_cast<int32_t>(ms % 1000) * 1'000'000);
  return timestamp;
}

int64_t ToMillis(const google::protobuf::Timestamp& timestamp) {
  return timestamp.seconds() * 1000 + timestamp.nanos() / 1'000'000;
}

quantd::v1::JobState ToProtoState(store::JobState state) {
  return static_cast<quantd::v1::JobState>(static_cast<int>(state));
}

store::JobState FromProtoState(quantd::v1::JobState state) {
  return static_cast<store::JobState>(static_cast<int>(state));
}

quantd::v1::Job JobToProto(const store::JobRecord& job) {
  quantd::v1::Job out;
  out.set_id(job.id);
  out.set_request_id(job.request_id);
  out.set_tenant(job.tenant);
  out.mutable_spec()->ParseFromString(job.spec);
  out.set_state(ToProtoState(job.state));
  out.set_attempt(job.attempt);
  if (job.create_time_ms) {
    *out.mutable_create_time() = ToTimestamp(job.create_time_ms);
  }
  if (job.start_time_ms) {
    *out.mutable_start_time() = ToTimestamp(job.start_time_ms);
  }
  if (job.end_time_ms) *out.mutable_end_time() = ToTimestamp(job.end_time_ms);
  if (store::IsHeld(job.state)) out.set_worker_id(job.worker_id);
  if (!job.progress.empty())
    out.mutable_progress()->ParseFromString(job.progress);
  if (!job.result.empty()) out.mutable_result()->ParseFromString(job.result);
  if (!job.error.empty()) out.mutable_error()->ParseFromString(job.error);
  out.set_last_sequence(job.last_sequence);
  auto* estimate = out.mutable_estimate();
  estimate->set_device(job.device);
  estimate->set_device_memory_bytes(job.device_memory_bytes);
  estimate->set_host_memory_bytes(job.host_memory_bytes);
  out.set_cancel_requested(job.cancel_requested);
  return out;
}

quantd::v1::JobEvent EventToProto(const store::EventRecord& event) {
  quantd::v1::JobEvent out;
  out.ParseFromString(event.payload);
  out.set_job_id(event.job_id);
  out.set_sequence(event.sequence);
  *out.mutable_time() = ToTimestamp(event.time_ms);
  return out;
}

quantd::v1::Artifact ArtifactToProto(const store::ArtifactRecord& artifact) {
  quantd::v1::Artifact out;
  out.set_name(artifact.name);
  out.set_blob("sha256:" + artifact.blob);
  out.set_size_bytes(artifact.size_bytes);
  out.set_kind(artifact.kind);
  return out;
}

std::string StateChangePayload(store::JobState from, store::JobState to,
                               const std::string& reason, uint32_t attempt) {
  quantd::v1::JobEvent event;
  auto* change = event.mutable_state_change();
  change->set_from(ToProtoState(from));
  change->set_to(ToProtoState(to));
  change->set_reason(reason);
  change->set_attempt(attempt);
  return event.SerializeAsString();
}

std::string TerminalPayload(const store::JobRecord& job) {
  quantd::v1::JobEvent event;
  auto* terminal = event.mutable_terminal();
  terminal->set_state(ToProtoState(job.state));
  if (!job.error.empty()) terminal->mutable_error()->ParseFromString(job.error);
  if (!job.result.empty()) {
    terminal->mutable_result()->ParseFromString(job.result);
  }
  return event.SerializeAsString();
}

std::string LogPayload(const std::string& level, const std::string& message) {
  quantd::v1::JobEvent event;
  event.mutable_log()->set_level(level);
  event.mutable_log()->set_message(message);
  return event.SerializeAsString();
}

std::string ArtifactPayload(const quantd::v1::Artifact& artifact) {
  quantd::v1::JobEvent event;
  *event.mutable_artifact() = artifact;
  return event.SerializeAsString();
}

std::string ErrorPayload(absl::StatusCode code, const std::string& message,
                         const std::string& field) {
  quantd::v1::ErrorInfo error;
  error.set_code(static_cast<int32_t>(code));
  error.set_message(message);
  error.set_field(field);
  return error.SerializeAsString();
}

}  // namespace quantd::scheduler
