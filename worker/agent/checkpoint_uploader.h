// CheckpointUploader: uploads one job's block checkpoints to the scheduler
// on a thread of its own, so that a checkpoint of hundreds of megabytes
// never holds up the job's progress, logs or final artifacts.
//
// Checkpoints are cumulative: only the newest matters. Offer() replaces a
// checkpoint still waiting with the newer one (the older is "superseded"
// and never sent). Uploads are also spaced out: the next one starts no
// sooner than `min_interval` after the previous one started, so an engine
// that checkpoints every few seconds costs one upload per interval, not
// one per block (the first checkpoint of a lease goes at once). What the
// scheduler holds is therefore at most about one interval plus one upload
// behind the engine.
//
// The files it is given are normally private hard links
// (JobWorkspace::PinCheckpoint, EngineFile::pinned), which it removes once
// they are sent or superseded, so the engine may replace its checkpoint
// meanwhile. A file whose content no longer matches its event (DATA_LOSS
// from the reporter: the engine replaced an unpinned file) counts as
// superseded: a newer checkpoint is on its way.
//
// Thread-safety: Offer() may be called from any thread; Start() and
// Finish() belong to the owner. Does not own the reporter, which must
// outlive it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "spdlog/logger.h"
#include "worker/agent/engine_event.h"
#include "worker/agent/job_reporter.h"

namespace quantd::agent {

struct CheckpointUploadOptions {
  // Least time between the starts of two checkpoint uploads of a job.
  // Zero: the next upload starts as soon as the previous one has ended.
  // Default 60 s (config key checkpoint-upload-interval-seconds).
  absl::Duration min_interval = absl::Seconds(60);
};

// What happened to the checkpoints a job offered.
struct CheckpointUploadStats {
  uint64_t uploaded = 0;
  // Replaced by a newer one before being sent, or dropped by Finish().
  uint64_t superseded = 0;
  uint64_t failed = 0;
  // The last finished block of the newest checkpoint the scheduler holds.
  std::optional<uint32_t> last_uploaded_block;
};

// Maps an engine-reported path to a readable local path inside the job's
// work dir (JobWorkspace::Resolve).
using CheckpointPathResolver =
    std::function<absl::StatusOr<std::string>(absl::string_view path)>;

class CheckpointUploader {
 public:
  // `on_error` is called (on the uploader's thread) with every failed
  // upload's status, after the reporter's own retries; it decides what a
  // FAILED_PRECONDITION (lease lost) means for the job.
  CheckpointUploader(CheckpointUploadOptions options, JobReporter& reporter,
                     CheckpointPathResolver resolve,
                     std::function<void(const absl::Status&)> on_error,
                     std::shared_ptr<spdlog::logger> log, std::string job_id);
  // Finish(false) if the owner did not call Finish().
  ~CheckpointUploader();
  CheckpointUploader(const CheckpointUploader&) = delete;
  CheckpointUploader& operator=(const CheckpointUploader&) = delete;

  void Start();
  // Never waits for an upload. The checkpoint replaces any still waiting.
  void Offer(EngineFile checkpoint);
  // Stops the thread once the upload in progress has ended. `flush`: the
  // waiting checkpoint is sent first, without waiting for the interval;
  // otherwise it is dropped. Returns what happened to every checkpoint.
  CheckpointUploadStats Finish(bool flush);

 private:
  // The next checkpoint to send, waiting for one and for the interval;
  // nullopt once the thread must end.
  std::optional<EngineFile> Next();
  void Loop();
  void Upload(const EngineFile& checkpoint);
  void Discard(const EngineFile& checkpoint);

  const CheckpointUploadOptions options_;
  JobReporter& reporter_;
  const CheckpointPathResolver resolve_;
  const std::function<void(const absl::Status&)> on_error_;
  std::shared_ptr<spdlog::logger> log_;
  const std::string job_id_;
  std::thread thread_;

  absl::Mutex mu_;
  std::optional<EngineFile> pending_ ABSL_GUARDED_BY(mu_);
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool flush_ ABSL_GUARDED_BY(mu_) = false;
  // When the next upload may start.
  absl::Time next_start_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  CheckpointUploadStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace quantd::agent
