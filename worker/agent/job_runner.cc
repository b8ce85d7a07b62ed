#include "worker/agent/job_runner.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "worker/agent/engine_event.h"
#include "worker/agent/job_outcome.h"
#include "worker/agent/text_tail.h"

namespace quantd::agent {
namespace {

// Tail of the engine's stderr read for error messages.
constexpr size_t kStderrTailBytes = 16 * 1024;

quantd::v1::CompleteJobRequest FailedRequest(const absl::Status& status) {
  quantd::v1::CompleteJobRequest request;
  request.set_state(quantd::v1::JOB_STATE_FAILED);
  request.mutable_error()->set_code(static_cast<int>(status.code()));
  request.mutable_error()->set_message(std::string(status.message()));
  request.mutable_error()->set_field(FieldOfError(status));
  return request;
}

std::string OutcomeOf(const quantd::v1::CompleteJobRequest& request) {
  if (request.release()) return "released";
  switch (request.state()) {
    case quantd::v1::JOB_STATE_SUCCEEDED:
      return "succeeded";
    case quantd::v1::JOB_STATE_CANCELLED:
      return "cancelled";
    default:
      return "failed";
  }
}

}  // namespace

JobRunner::JobRunner(JobRunnerOptions options, quantd::v1::Lease lease,
                     std::unique_ptr<JobReporter> reporter, BlobFetcher fetch,
                     WorkerMetrics* metrics,
                     std::shared_ptr<spdlog::logger> log,
                     std::function<void()> on_done)
    : options_(std::move(options)),
      lease_(std::move(lease)),
      reporter_(std::move(reporter)),
      fetch_(std::move(fetch)),
      metrics_(metrics),
      log_(std::move(log)),
      on_done_(std::move(on_done)) {}

JobRunner::~JobRunner() {
  if (thread_.joinable()) {
    Revoke();
    thread_.join();
  }
}

void JobRunner::Start() {
  thread_ = std::thread([this] { Run(); });
}

void JobRunner::Join() {
  if (thread_.joinable()) thread_.join();
}

void JobRunner::RequestStop(StopReason reason) {
  std::shared_ptr<EngineSupervisor> supervisor;
  {
    absl::MutexLock lock(&mu_);
    if (reason <= stop_reason_) return;
    stop_reason_ = reason;
    supervisor = supervisor_;
  }
  log_->info("job={} stop requested reason={}", job_id(),
             reason == StopReason::kRevoke   ? "lease lost"
             : reason == StopReason::kCancel ? "cancel"
                                             : "worker shutdown");
  if (!stopping_.HasBeenNotified()) stopping_.Notify();
  if (reason == StopReason::kRevoke) reporter_->InterruptTransfers();
  if (supervisor == nullptr) return;  // Execute() checks before spawning.
  if (reason == StopReason::kRevoke) {
    supervisor->Kill();
  } else {
    supervisor->Terminate(options_.cancel_grace);
  }
}

JobRunner::StopReason JobRunner::stop_reason() const {
  absl::MutexLock lock(&mu_);
  return stop_reason_;
}

void JobRunner::Run() {
  outcome_ = Execute();
  log_->info("job={} ended outcome={}", job_id(), outcome_);
  if (metrics_ != nullptr) metrics_->JobEnded(outcome_);
  done_.Notify();
  if (on_done_) on_done_();
}

std::string JobRunner::Execute() {
  auto workspace =
      JobWorkspace::Create(options_.work_root, job_id(), fencing_token());
  if (!workspace.ok()) return FailBeforeStart(workspace.status());
  const auto spec = (*workspace)
                        ->Prepare(lease_, [this](const std::string& blob,
                                                 const std::string& dest) {
                          return fetch_(blob, dest, &stopping_);
                        });
  if (!spec.ok()) {
    workspace->reset();
    return FailBeforeStart(Annotate(spec.status(), "preparing the job"));
  }
  return RunEngine(*std::move(workspace));
}

std::string JobRunner::FailBeforeStart(const absl::Status& status) {
  switch (stop_reason()) {
    case StopReason::kRevoke:
      return "lost";
    case StopReason::kCancel: {
      quantd::v1::CompleteJobRequest request;
      request.set_state(quantd::v1::JOB_STATE_CANCELLED);
      return Complete(std::move(request), "cancelled");
    }
    case StopReason::kRelease: {
      quantd::v1::CompleteJobRequest request;
      request.set_release(true);
      return Complete(std::move(request), "released");
    }
    case StopReason::kNone:
      break;
  }
  log_->error("job={} cannot start: {}", job_id(), status.ToString());
  return Complete(FailedRequest(status), "failed");
}

SupervisorOptions JobRunner::EngineOptions(
    const JobWorkspace& workspace) const {
  SupervisorOptions options;
  options.spawn.argv = {options_.engine_path,
                        "run",
                        workspace.spec_path(),
                        "--out",
                        workspace.dir(),
                        "--events-fd",
                        "3"};
  for (const std::string& arg : options_.engine_extra_args) {
    options.spawn.argv.push_back(arg);
  }
  options.spawn.pipe_child_fd = 3;
  options.spawn.output_path = workspace.engine_log_path();
  options.spawn.max_address_space_bytes = options_.max_address_space_bytes;
  options.spawn.max_open_files = options_.max_open_files;
  // A worker killed with SIGKILL must not leave its engine running: the
  // lease is lost and another worker will resume the job.
  options.spawn.kill_with_parent = true;
  return options;
}

std::string JobRunner::RunEngine(std::unique_ptr<JobWorkspace> workspace) {
  auto supervisor =
      std::make_shared<EngineSupervisor>(EngineOptions(*workspace));
  {
    absl::MutexLock lock(&mu_);
    if (stop_reason_ != StopReason::kNone) supervisor->Kill();
    supervisor_ = supervisor;
  }
  EventQueue queue(options_.event_queue_capacity);
  const JobWorkspace& files = *workspace;
  EventRelay relay(
      options_.relay, queue, *reporter_,
      [&files](absl::string_view path) { return files.Resolve(path); },
      [this] { Revoke(); }, log_, job_id());
  relay.Start();
  StageClock stages([this](absl::string_view stage, double seconds) {
    if (metrics_ != nullptr) metrics_->StageFinished(stage, seconds);
  });
  log_->info("job={} engine starting attempt={}", job_id(),
             lease_.job().attempt());
  if (metrics_ != nullptr) metrics_->EngineStarted();
  const absl::StatusOr<ExitStatus> exit = supervisor->Run(
      [&](const Line& line) { OnLine(line, *workspace, queue, stages); });
  if (metrics_ != nullptr) metrics_->EngineStopped();
  stages.Finish();
  queue.Close();
  return Conclude(exit, relay, std::move(workspace));
}

void JobRunner::OnLine(const Line& line, JobWorkspace& workspace,
                       EventQueue& queue, StageClock& stages) {
  absl::StatusOr<EngineEvent> event =
      line.truncated ? absl::InvalidArgumentError("line too long")
                     : ParseEngineEvent(line.text);
  if (!event.ok()) {
    log_->warn("job={} ignored an engine event: {}", job_id(),
               event.status().ToString());
    return;
  }
  if (event->type == EngineEventType::kProgress) {
    stages.Observe(event->progress.stage());
  }
  if (event->type == EngineEventType::kCheckpoint) {
    // Pinned here, as soon as it is announced: the engine renames the next
    // streams file over this one a block later, maybe before the upload. A
    // block file stays put, but pinning it too costs only a link.
    absl::StatusOr<EngineFile> pinned = workspace.PinCheckpoint(event->file);
    if (pinned.ok()) {
      event->file = *std::move(pinned);
    } else {
      log_->warn("job={} checkpoint {} block={} not pinned: {}", job_id(),
                 event->file.name, event->file.block_index,
                 pinned.status().ToString());
    }
  }
  queue.Push(*std::move(event));
}

std::string JobRunner::Conclude(const absl::StatusOr<ExitStatus>& exit,
                                EventRelay& relay,
                                std::unique_ptr<JobWorkspace> workspace) {
  const StopReason reason = stop_reason();
  const bool drain =
      reason == StopReason::kNone || reason == StopReason::kRelease;
  const EngineReport report = relay.Finish(drain);
  if (relay.lease_lost() || stop_reason() == StopReason::kRevoke) {
    return "lost";
  }
  if (exit.ok()) {
    log_->info("job={} engine ended: {}", job_id(), exit->Describe());
  }
  const bool finished =
      exit.ok() && exit->Succeeded() && report.result.has_value();
  quantd::v1::CompleteJobRequest request;
  if (reason == StopReason::kCancel) {
    request.set_state(quantd::v1::JOB_STATE_CANCELLED);
  } else if (reason == StopReason::kRelease && !finished) {
    request.set_release(true);
  } else if (!exit.ok()) {
    request = FailedRequest(Annotate(exit.status(), "starting the engine"));
  } else {
    request =
        CompletionFor(*exit, report,
                      TailLines(workspace->engine_log_path(),
                                options_.stderr_tail_lines, kStderrTailBytes));
  }
  request.set_exit_status(exit.ok() ? exit->AsInt() : 0);
  const std::string outcome = OutcomeOf(request);
  if (outcome == "failed" && options_.keep_failed_work_dirs) workspace->Keep();
  workspace.reset();
  return Complete(std::move(request), outcome);
}

std::string JobRunner::Complete(quantd::v1::CompleteJobRequest request,
                                std::string outcome) {
  const absl::StatusOr<quantd::v1::Job> job =
      reporter_->CompleteJob(std::move(request));
  if (job.ok()) return outcome;
  if (job.status().code() == absl::StatusCode::kFailedPrecondition) {
    log_->warn("job={} lease lost at completion: {}", job_id(),
               job.status().ToString());
    return "lost";
  }
  // The lease will expire and the scheduler requeues the job.
  log_->error("job={} CompleteJob failed: {}", job_id(),
              job.status().ToString());
  return outcome;
}

}  // namespace quantd::agent
