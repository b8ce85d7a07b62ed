// CheckpointUploader: uploads one job's block checkpoints to the scheduler
// on a thread of its own, so that a checkpoint of hundreds of megabytes
// never holds up the job's progress, logs or final artifacts.
//
// A checkpoint comes in parts (docs/formats/engine-protocol.md): after
// every block the engine announces that block's file, which never changes,
// then the streams file, which it replaces after every block and which
// commits the checkpoint. Each block part is uploaded exactly once, in the
// order offered and as soon as possible; none is ever dropped while the job
// runs (the queue holds at most one part a block of the model). Only the
// newest streams part matters, and a streams part may only be sent once
// every block part offered before it has been uploaded ("eligible"; if one
// of those was not, it is never sent: the scheduler would hold a commit
// point naming a block it lacks). Of the streams parts waiting, only the
// newest and the newest eligible one are kept (the others are
// "superseded" and never sent), and streams uploads are spaced out: the
// next one starts no sooner than `min_interval` after the previous one
// started (the first of a lease goes at once), so an engine that
// checkpoints every few seconds costs one streams upload per interval, not
// one per block. An eligible streams part goes when the interval allows
// even while block parts are queued, so a backlog of block uploads never
// keeps the scheduler's commit point from moving.
//
// The files it is given are normally private hard links
// (JobWorkspace::PinCheckpoint, EngineFile::pinned), which it removes once
// they are sent or dropped, so the engine may replace its files meanwhile.
// A file whose content no longer matches its event (DATA_LOSS from the
// reporter: the engine replaced an unpinned file) counts as superseded: a
// newer one is on its way.
//
// Thread-safety: Offer() may be called from any thread; Start() and
// Finish() belong to the owner. Does not own the reporter, which must
// outlive it.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "spdlog/logger.h"
#include "worker/agent/engine_event.h"
#include "worker/agent/job_reporter.h"

namespace quantd::agent {

struct CheckpointUploadOptions {
  // Least time between the starts of two streams-part uploads of a job
  // (block parts are not spaced out). Zero: the next one starts as soon as
  // the uploads before it have ended. Default 60 s (config key
  // checkpoint-upload-interval-seconds).
  absl::Duration min_interval = absl::Seconds(60);
};

// What happened to the checkpoint parts a job offered.
struct CheckpointUploadStats {
  uint64_t uploaded = 0;
  // Replaced by a newer one before being sent, changed before its upload,
  // or dropped by Finish().
  uint64_t superseded = 0;
  // Upload failed, or a streams part not sent because a block part before
  // it was not uploaded.
  uint64_t failed = 0;
  // The last finished block of the newest streams part the scheduler holds.
  std::optional<uint32_t> last_uploaded_block;
  // Sum of the sizes of the parts uploaded.
  uint64_t bytes_uploaded = 0;
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
  // Never waits for an upload. A block part (EngineFile::part kBlock) joins
  // the queue; any other part joins the waiting streams parts, which are
  // then pruned to the newest and the newest eligible one.
  void Offer(EngineFile part);
  // Stops the thread once the upload in progress has ended. `flush`: the
  // queued block parts and then the waiting streams part are sent first,
  // without waiting for the interval; otherwise they are dropped. Returns
  // what happened to every part.
  CheckpointUploadStats Finish(bool flush);

 private:
  // A part waiting for its upload. `sequence`: for a block part, how many
  // block parts were offered before it; for a streams part, how many were
  // offered before it (those it names).
  struct Queued {
    EngineFile file;
    uint64_t sequence = 0;
  };

  // The next part to send: the eligible streams part once the interval
  // allows, else a block part; nullopt once the thread must end.
  std::optional<Queued> Next();
  void Loop();
  void Upload(const Queued& part);
  // Whether a streams part may be sent: every block part before it was
  // uploaded.
  bool BlocksUploadedBefore(const Queued& streams);
  // Counts an upload's outcome; a block part not uploaded is lost.
  void Record(const Queued& part, absl::StatusCode code);
  void Discard(const EngineFile& part);
  // Every block part offered before `streams` has been taken for upload
  // (taken parts are uploaded before the next is taken).
  bool Eligible(const Queued& streams) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return streams.sequence <= blocks_taken_;
  }
  // Keeps the newest and the newest eligible streams parts; returns the
  // files of the others.
  std::vector<EngineFile> PruneStreams() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const CheckpointUploadOptions options_;
  JobReporter& reporter_;
  const CheckpointPathResolver resolve_;
  const std::function<void(const absl::Status&)> on_error_;
  std::shared_ptr<spdlog::logger> log_;
  const std::string job_id_;
  std::thread thread_;

  absl::Mutex mu_;
  std::deque<Queued> blocks_ ABSL_GUARDED_BY(mu_);
  // Oldest first; at most two after pruning.
  std::deque<Queued> streams_ ABSL_GUARDED_BY(mu_);
  uint64_t blocks_offered_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t blocks_taken_ ABSL_GUARDED_BY(mu_) = 0;
  // The sequence of the first block part that was not uploaded.
  std::optional<uint64_t> first_lost_block_ ABSL_GUARDED_BY(mu_);
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool flush_ ABSL_GUARDED_BY(mu_) = false;
  // When the next streams upload may start.
  absl::Time next_start_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  CheckpointUploadStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace quantd::agent
