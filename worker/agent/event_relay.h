// EventRelay: the thread that carries one job's engine events to the
// scheduler. It takes events from the EventQueue in order and
//   - reports states, progress and logs with ReportEvents, in batches (all
//     that is queued, up to a limit, goes in one call);
//   - hands each checkpoint part to a CheckpointUploader, whose own thread
//     sends it (block files in order, the newest streams file spaced out),
//     so a large checkpoint never delays the other events;
//   - uploads each final artifact with UploadArtifact;
//   - keeps the result and error events for the job's completion.
// A FAILED_PRECONDITION from the scheduler means the lease is lost: the
// relay stops and calls `on_lease_lost` (once).
//
// Thread-safety: Start() and Finish() are called by the owner (the job's
// runner); lease_lost() from any thread. Does not own the queue or the
// reporter, which must outlive it.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "quantd/v1/types.pb.h"
#include "spdlog/logger.h"
#include "worker/agent/checkpoint_uploader.h"
#include "worker/agent/event_queue.h"
#include "worker/agent/job_outcome.h"
#include "worker/agent/job_reporter.h"

namespace quantd::agent {

struct RelayOptions {
  // Most events per ReportEvents call. Default 64.
  size_t max_batch_events = 64;
  // How long the thread waits for events before checking for a stop.
  absl::Duration poll_interval = absl::Milliseconds(100);
  CheckpointUploadOptions checkpoints;
};

// Maps an engine-reported path to a readable local path, rejecting paths
// outside the job's work dir (JobWorkspace::Resolve).
using PathResolver =
    std::function<absl::StatusOr<std::string>(absl::string_view path)>;

class EventRelay {
 public:
  EventRelay(RelayOptions options, EventQueue& queue, JobReporter& reporter,
             PathResolver resolve, std::function<void()> on_lease_lost,
             std::shared_ptr<spdlog::logger> log, std::string job_id);
  // Abandons and joins if Finish() was not called.
  ~EventRelay();
  EventRelay(const EventRelay&) = delete;
  EventRelay& operator=(const EventRelay&) = delete;

  void Start();
  // Stops the threads and returns what the events said. `drain`: first
  // relay everything queued (the producer must have closed the queue) and,
  // unless a result arrived (the job is done), send the checkpoint parts
  // still waiting so that the job resumes from them; otherwise stop after
  // the calls in progress, which are cut short.
  EngineReport Finish(bool drain);
  bool lease_lost() const { return lease_lost_.load(); }

 private:
  void Loop();
  void Process(std::vector<EngineEvent> batch);
  void Handle(EngineEvent& event);
  void Flush();
  void Upload(const EngineFile& file);
  // Records a failed call; true when the relay must stop.
  bool Failed(const absl::Status& status, absl::string_view what);
  bool stopping() const;

  const RelayOptions options_;
  EventQueue& queue_;
  JobReporter& reporter_;
  const PathResolver resolve_;
  const std::function<void()> on_lease_lost_;
  std::shared_ptr<spdlog::logger> log_;
  const std::string job_id_;
  std::thread thread_;
  absl::Notification abandon_;
  std::atomic<bool> lease_lost_{false};
  CheckpointUploader checkpoints_;
  // Owned by the relay thread until Finish() joins it.
  std::vector<quantd::v1::JobEvent> pending_;
  EngineReport report_;
};

}  // namespace quantd::agent
