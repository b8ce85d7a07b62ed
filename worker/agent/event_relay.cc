#include "worker/agent/event_relay.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "worker/agent/event_mapping.h"

namespace quantd::agent {

EventRelay::EventRelay(RelayOptions options, EventQueue& queue,
                       JobReporter& reporter, PathResolver resolve,
                       std::function<void()> on_lease_lost,
                       std::shared_ptr<spdlog::logger> log, std::string job_id)
    : options_(options),
      queue_(queue),
      reporter_(reporter),
      resolve_(std::move(resolve)),
      on_lease_lost_(std::move(on_lease_lost)),
      log_(std::move(log)),
      job_id_(std::move(job_id)) {}

EventRelay::~EventRelay() {
  if (thread_.joinable()) Finish(/*drain=*/false);
}

void EventRelay::Start() {
  thread_ = std::thread([this] { Loop(); });
}

EngineReport EventRelay::Finish(bool drain) {
  if (!drain) {
    if (!abandon_.HasBeenNotified()) abandon_.Notify();
    reporter_.InterruptTransfers();
  }
  if (thread_.joinable()) thread_.join();
  if (queue_.dropped() > 0) {
    log_->info("job={} progress_events_dropped={}", job_id_, queue_.dropped());
  }
  return std::move(report_);
}

bool EventRelay::stopping() const {
  return abandon_.HasBeenNotified() || lease_lost_.load();
}

void EventRelay::Loop() {
  while (!stopping()) {
    std::vector<EngineEvent> batch =
        queue_.PopBatch(options_.max_batch_events, options_.poll_interval);
    if (batch.empty()) {
      if (queue_.Finished()) break;
      continue;
    }
    Process(std::move(batch));
  }
}

void EventRelay::Process(std::vector<EngineEvent> batch) {
  // Checkpoints are cumulative: only the newest in the batch matters.
  size_t newest_checkpoint = batch.size();
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].type == EngineEventType::kCheckpoint) newest_checkpoint = i;
  }
  for (size_t i = 0; i < batch.size() && !stopping(); ++i) {
    if (batch[i].type == EngineEventType::kCheckpoint &&
        i != newest_checkpoint) {
      continue;
    }
    Handle(batch[i]);
  }
  if (!stopping()) Flush();
}

void EventRelay::Handle(EngineEvent& event) {
  if (std::optional<quantd::v1::JobEvent> mapped = ToJobEvent(event)) {
    pending_.push_back(*std::move(mapped));
    return;
  }
  switch (event.type) {
    case EngineEventType::kCheckpoint:
    case EngineEventType::kArtifact:
      Flush();
      if (!stopping()) Upload(event);
      return;
    case EngineEventType::kResult:
      report_.result = std::move(event.result);
      return;
    case EngineEventType::kError:
      report_.error = std::move(event.error);
      return;
    default:
      log_->debug("job={} ignored engine event type={}", job_id_,
                  event.type_name);
      return;
  }
}

void EventRelay::Flush() {
  if (pending_.empty()) return;
  const absl::Status status = reporter_.ReportEvents(pending_);
  if (status.ok()) {
    pending_.clear();
    return;
  }
  if (Failed(status, "reporting events")) return;
  // Progress and logs can be lost; a state change is kept for next time.
  std::erase_if(pending_, [](const quantd::v1::JobEvent& event) {
    return !event.has_state_change();
  });
}

void EventRelay::Upload(const EngineEvent& event) {
  const EngineFile& file = event.file;
  const bool is_checkpoint = event.type == EngineEventType::kCheckpoint;
  quantd::v1::Artifact artifact;
  artifact.set_name(file.name);
  artifact.set_kind(file.kind);
  artifact.set_blob(absl::StrCat("sha256:", file.sha256_hex));
  artifact.set_size_bytes(file.size_bytes);
  const absl::StatusOr<std::string> path = resolve_(file.path);
  absl::StatusOr<quantd::v1::Artifact> uploaded =
      path.ok() ? reporter_.UploadArtifact(*path, artifact)
                : absl::StatusOr<quantd::v1::Artifact>(path.status());
  if (uploaded.ok()) {
    if (!is_checkpoint) report_.artifacts.push_back(*std::move(uploaded));
    return;
  }
  if (Failed(uploaded.status(), absl::StrCat("uploading ", file.name))) return;
  // A lost checkpoint only costs resume progress; a lost artifact fails the
  // job.
  if (!is_checkpoint && report_.upload_error.ok()) {
    report_.upload_error = Annotate(uploaded.status(), file.name);
  }
}

bool EventRelay::Failed(const absl::Status& status, absl::string_view what) {
  if (status.code() == absl::StatusCode::kFailedPrecondition) {
    if (!lease_lost_.exchange(true)) {
      log_->warn("job={} lease lost while {}: {}", job_id_, std::string(what),
                 std::string(status.message()));
      if (on_lease_lost_) on_lease_lost_();
    }
    return true;
  }
  if (abandon_.HasBeenNotified()) return true;
  log_->warn("job={} {} failed: {}", job_id_, std::string(what),
             status.ToString());
  return false;
}

}  // namespace quantd::agent
