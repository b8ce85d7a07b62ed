#include "client/quantctl/job_json.h"

#include <cmath>
#include <string>

#include "client/quantctl/humanize.h"
#include "client/quantctl/proto_names.h"
#include "client/quantctl/scheme_flags.h"
#include "google/protobuf/util/json_util.h"

namespace quantd::client {
namespace {

using nlohmann::json;

json TimeOrNull(const google::protobuf::Timestamp& time) {
  const std::string text = FormatTimestamp(time);
  return text.empty() ? json(nullptr) : json(text);
}

json DataRefToJson(const quantd::v1::DataRef& ref) {
  if (ref.has_blob()) return ref.blob();
  if (ref.has_uri()) return ref.uri();
  return nullptr;
}

// The spec in the proto3 JSON mapping with the original field names, the
// same form the engine reads.
json SpecToJson(const quantd::v1::JobSpec& spec) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string text;
  if (!google::protobuf::util::MessageToJsonString(spec, &text, options).ok()) {
    return nullptr;
  }
  return json::parse(text, nullptr, /*allow_exceptions=*/false);
}

}  // namespace

json DeltaPercent(double fp, double quantized) {
  if (fp == 0 || !std::isfinite(fp) || !std::isfinite(quantized)) {
    return nullptr;
  }
  return (quantized - fp) / std::fabs(fp) * 100.0;
}

json ArtifactToJson(const quantd::v1::Artifact& artifact) {
  return {{"name", artifact.name()},
          {"blob", artifact.blob()},
          {"size_bytes", artifact.size_bytes()},
          {"kind", artifact.kind()}};
}

json ResultToJson(const quantd::v1::JobResult& result) {
  json artifacts = json::array();
  for (const auto& artifact : result.artifacts()) {
    artifacts.push_back(ArtifactToJson(artifact));
  }
  json attempts = json::array();
  for (const quantd::v1::Attempt& attempt : result.attempts()) {
    attempts.push_back(
        {{"method", attempt.method()},
         {"scheme", attempt.scheme()},
         {"quantized_value", attempt.quantized_value()},
         {"delta_percent",
          DeltaPercent(result.fp_value(), attempt.quantized_value())},
         {"wall_seconds", attempt.wall_seconds()},
         {"met_target", attempt.met_target()}});
  }
  return {{"metric", result.metric()},
          {"fp_value", result.fp_value()},
          {"quantized_value", result.quantized_value()},
          {"delta", result.quantized_value() - result.fp_value()},
          {"delta_percent",
           DeltaPercent(result.fp_value(), result.quantized_value())},
          {"eval_tokens", result.eval_tokens()},
          {"eval_seq_len", result.eval_seq_len()},
          {"wall_seconds", result.wall_seconds()},
          {"peak_host_memory_bytes", result.peak_host_memory_bytes()},
          {"peak_device_memory_bytes", result.peak_device_memory_bytes()},
          {"attempts", attempts},
          {"artifacts", artifacts}};
}

json ErrorToJson(const quantd::v1::ErrorInfo& error) {
  return {{"code", CodeName(error.code())},
          {"message", error.message()},
          {"field", error.field()}};
}

json ProgressToJson(const quantd::v1::Progress& progress) {
  return {{"stage", progress.stage()},
          {"block_index", progress.block_index()},
          {"block_count", progress.block_count()},
          {"fraction", progress.fraction()},
          {"eta_seconds", progress.eta_seconds()}};
}

json JobToJson(const quantd::v1::Job& job) {
  json labels = json::object();
  for (const auto& [key, value] : job.spec().labels()) labels[key] = value;
  return {
      {"id", job.id()},
      {"request_id", job.request_id()},
      {"tenant", job.tenant()},
      {"state", StateName(job.state())},
      {"attempt", job.attempt()},
      {"method", job.spec().method()},
      {"scheme", SchemeSummary(job.spec().scheme())},
      {"model", DataRefToJson(job.spec().model())},
      {"priority", job.spec().priority()},
      {"labels", labels},
      {"worker_id", job.worker_id()},
      {"create_time", TimeOrNull(job.create_time())},
      {"start_time", TimeOrNull(job.start_time())},
      {"end_time", TimeOrNull(job.end_time())},
      {"cancel_requested", job.cancel_requested()},
      {"last_sequence", job.last_sequence()},
      {"progress",
       job.has_progress() ? ProgressToJson(job.progress()) : json(nullptr)},
      {"result", job.has_result() ? ResultToJson(job.result()) : json(nullptr)},
      {"error", job.has_error() ? ErrorToJson(job.error()) : json(nullptr)},
      {"estimate",
       {{"device_memory_bytes", job.estimate().device_memory_bytes()},
        {"host_memory_bytes", job.estimate().host_memory_bytes()}}},
      {"spec", SpecToJson(job.spec())}};
}

json EventToJson(const quantd::v1::JobEvent& event) {
  json out = {{"job_id", event.job_id()},
              {"sequence", event.sequence()},
              {"time", TimeOrNull(event.time())}};
  switch (event.kind_case()) {
    case quantd::v1::JobEvent::kStateChange:
      out["type"] = "state_change";
      out["from"] = StateName(event.state_change().from());
      out["to"] = StateName(event.state_change().to());
      out["reason"] = event.state_change().reason();
      out["attempt"] = event.state_change().attempt();
      break;
    case quantd::v1::JobEvent::kProgress:
      out["type"] = "progress";
      out["progress"] = ProgressToJson(event.progress());
      break;
    case quantd::v1::JobEvent::kLog:
      out["type"] = "log";
      out["level"] = event.log().level();
      out["message"] = event.log().message();
      break;
    case quantd::v1::JobEvent::kArtifact:
      out["type"] = "artifact";
      out["artifact"] = ArtifactToJson(event.artifact());
      break;
    case quantd::v1::JobEvent::kTerminal:
      out["type"] = "terminal";
      out["state"] = StateName(event.terminal().state());
      out["error"] = event.terminal().has_error()
                         ? ErrorToJson(event.terminal().error())
                         : json(nullptr);
      out["result"] = event.terminal().has_result()
                          ? ResultToJson(event.terminal().result())
                          : json(nullptr);
      break;
    default:
      out["type"] = "unknown";
  }
  return out;
}

json WorkerToJson(const quantd::v1::WorkerInfo& worker) {
  json devices = json::array();
  for (const auto& device : worker.capabilities().devices()) {
    devices.push_back({{"name", device.name()},
                       {"model", device.model()},
                       {"memory_bytes", device.memory_bytes()}});
  }
  const auto& capabilities = worker.capabilities();
  return {
      {"worker_id", worker.worker_id()},
      {"alive", worker.alive()},
      {"devices", devices},
      {"host_memory_bytes", capabilities.host_memory_bytes()},
      {"engine_version", capabilities.engine_version()},
      {"methods", json(std::vector<std::string>(capabilities.methods().begin(),
                                                capabilities.methods().end()))},
      {"max_concurrent_jobs", capabilities.max_concurrent_jobs()},
      {"job_ids", json(std::vector<std::string>(worker.job_ids().begin(),
                                                worker.job_ids().end()))},
      {"device_memory_used_bytes", worker.device_memory_used_bytes()},
      {"register_time", TimeOrNull(worker.register_time())},
      {"last_heartbeat_time", TimeOrNull(worker.last_heartbeat_time())}};
}

}  // namespace quantd::client
