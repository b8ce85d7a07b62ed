// JobRunner: carries out one leased job on its own thread, from the lease
// to CompleteJob:
//   1. a JobWorkspace with the inputs, the resume checkpoint files and
//      spec.json;
//   2. `quantd-engine run spec.json --out DIR --events-fd 3` plus the
//      configured flags (--device, --threads, --data-dir) under an
//      EngineSupervisor (own process group, stderr to DIR/engine.log,
//      resource limits, killed if the worker dies);
//   3. its events parsed on this thread and handed to an EventRelay thread
//      through a bounded EventQueue (reading the pipe never waits on the
//      scheduler); checkpoint parts are pinned here as they are announced
//      and uploaded by the relay's CheckpointUploader;
//   4. CompleteJob: SUCCEEDED/FAILED from the engine's end (job_outcome.h).
//
// Stop requests, from the heartbeat or the worker:
//   Cancel()  - the user cancelled: SIGTERM, SIGKILL after the grace,
//               CompleteJob CANCELLED;
//   Release() - the worker shuts down: SIGTERM (the engine keeps its last
//               checkpoint), uploads in progress finish and the block
//               files and newest streams file not yet sent follow,
//               CompleteJob with release = true;
//   Revoke()  - the lease is lost (also on any FAILED_PRECONDITION): the
//               engine is killed and nothing more is reported.
// The work dir is removed before the completion is sent.
//
// Thread-safety: the stop requests, done(), job_id() and fencing_token()
// are safe from any thread; Start() and Join() belong to the owner.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "quantd/v1/worker.pb.h"
#include "spdlog/logger.h"
#include "worker/agent/engine_supervisor.h"
#include "worker/agent/event_queue.h"
#include "worker/agent/event_relay.h"
#include "worker/agent/job_reporter.h"
#include "worker/agent/job_workspace.h"
#include "worker/agent/stage_clock.h"
#include "worker/agent/worker_metrics.h"

namespace quantd::agent {

struct JobRunnerOptions {
  // Parent of the per-job work dirs.
  std::string work_root;
  // quantd-engine, a path or a name on PATH.
  std::string engine_path = "quantd-engine";
  // Appended to the engine's command line, e.g. {"--device", "cuda:0",
  // "--threads", "4", "--data-dir", "/data"}.
  std::vector<std::string> engine_extra_args;
  // Between SIGTERM and SIGKILL on cancel and shutdown. Default 30 s.
  absl::Duration cancel_grace = absl::Seconds(30);
  // Engine RLIMIT_AS in bytes; 0 = unlimited (CUDA reserves huge virtual
  // ranges, so only set it for CPU workers).
  uint64_t max_address_space_bytes = 0;
  // Engine RLIMIT_NOFILE; 0 = inherited. Default 4096.
  uint64_t max_open_files = 4096;
  // Engine events held for the relay before progress is dropped.
  size_t event_queue_capacity = 1024;
  RelayOptions relay;
  // Keep a failed job's work dir for a post-mortem.
  bool keep_failed_work_dirs = false;
  // Lines of the engine's stderr quoted in a failure's message.
  size_t stderr_tail_lines = 20;
};

// Fetches a blob into a file, giving up early once `interrupt` fires.
using BlobFetcher = std::function<absl::Status(const std::string& blob,
                                               const std::string& dest_path,
                                               absl::Notification* interrupt)>;

class JobRunner {
 public:
  // `metrics` may be null. `on_done` runs on the runner's thread when the
  // job has ended (the runner can then be joined).
  JobRunner(JobRunnerOptions options, quantd::v1::Lease lease,
            std::unique_ptr<JobReporter> reporter, BlobFetcher fetch,
            WorkerMetrics* metrics, std::shared_ptr<spdlog::logger> log,
            std::function<void()> on_done);
  // Joins the thread (revoking the job if it still runs).
  ~JobRunner();
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  void Start();
  void Join();

  void Cancel() { RequestStop(StopReason::kCancel); }
  void Release() { RequestStop(StopReason::kRelease); }
  void Revoke() { RequestStop(StopReason::kRevoke); }

  bool done() const { return done_.HasBeenNotified(); }
  const std::string& job_id() const { return lease_.job().id(); }
  uint64_t fencing_token() const { return lease_.fencing_token(); }
  // "succeeded", "failed", "cancelled", "released" or "lost"; valid once
  // done().
  const std::string& outcome() const { return outcome_; }

 private:
  // In increasing precedence: a later request only takes over from a
  // weaker one.
  enum class StopReason { kNone, kRelease, kCancel, kRevoke };

  void RequestStop(StopReason reason);
  StopReason stop_reason() const;
  void Run();
  std::string Execute();
  std::string RunEngine(std::unique_ptr<JobWorkspace> workspace);
  void OnLine(const Line& line, JobWorkspace& workspace, EventQueue& queue,
              StageClock& stages);
  std::string Conclude(const absl::StatusOr<ExitStatus>& exit,
                       EventRelay& relay,
                       std::unique_ptr<JobWorkspace> workspace);
  std::string Complete(quantd::v1::CompleteJobRequest request,
                       std::string outcome);
  std::string FailBeforeStart(const absl::Status& status);
  SupervisorOptions EngineOptions(const JobWorkspace& workspace) const;

  const JobRunnerOptions options_;
  const quantd::v1::Lease lease_;
  std::unique_ptr<JobReporter> reporter_;
  const BlobFetcher fetch_;
  WorkerMetrics* const metrics_;
  std::shared_ptr<spdlog::logger> log_;
  const std::function<void()> on_done_;
  std::thread thread_;
  // Fired by any stop request; interrupts downloads.
  absl::Notification stopping_;
  absl::Notification done_;
  std::string outcome_;

  mutable absl::Mutex mu_;
  StopReason stop_reason_ ABSL_GUARDED_BY(mu_) = StopReason::kNone;
  std::shared_ptr<EngineSupervisor> supervisor_ ABSL_GUARDED_BY(mu_);
};

}  // namespace quantd::agent
