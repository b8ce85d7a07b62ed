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
      job_id_(std::move(job_id)),
      checkpoints_(
          options_.checkpoints, reporter_, resolve_,
          [this](const absl::Status& status) {
            Failed(status, "uploading a checkpoint");
          },
          log_, job_id_) {}

EventRelay::~EventRelay() {
  if (thread_.joinable()) Finish(/*drain=*/false);
}

void EventRelay::Start() {
  checkpoints_.Start();
  thread_ = std::thread([this] { Loop(); });
}

EngineReport EventRelay::Finish(bool drain) {
  if (!drain) {
    if (!abandon_.HasBeenNotified()) abandon_.Notify();
    reporter_.InterruptTransfers();
  }
  if (thread_.joinable()) thread_.join();
  const bool flush = drain && !stopping() && !report_.result.has_value();
  const CheckpointUploadStats checkpoints = checkpoints_.Finish(flush);
  if (checkpoints.uploaded + checkpoints.superseded + checkpoints.failed > 0) {
    log_->info(
        "job={} checkpoint parts uploaded={} superseded={} failed={} "
        "bytes={}",
        job_id_, checkpoints.uploaded, checkpoints.superseded,
        checkpoints.failed, checkpoints.bytes_uploaded);
  }
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
  for (size_t i = 0; i < batch.size() && !stopping(); ++i) Handle(batch[i]);
  if (!stopping()) Flush();
}

void EventRelay::Handle(EngineEvent& event) {
  if (std::optional<quantd::v1::JobEvent> mapped = ToJobEvent(event)) {
    pending_.push_back(*std::move(mapped));
    return;
  }
  switch (event.type) {
    case EngineEventType::kCheckpoint:
      checkpoints_.Offer(std::move(event.file));
      return;
    case EngineEventType::kArtifact:
      Flush();
      if (!stopping()) Upload(event.file);
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

void EventRelay::Upload(const EngineFile& file) {
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
    report_.artifacts.push_back(*std::move(uploaded));
    return;
  }
  if (Failed(uploaded.status(), absl::StrCat("uploading ", file.name))) return;
  // A lost artifact fails the job.
  if (report_.upload_error.ok()) {
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
