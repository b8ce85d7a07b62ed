#include "worker/agent/checkpoint_uploader.h"

#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"

namespace quantd::agent {

CheckpointUploader::CheckpointUploader(
    CheckpointUploadOptions options, JobReporter& reporter,
    CheckpointPathResolver resolve,
    std::function<void(const absl::Status&)> on_error,
    std::shared_ptr<spdlog::logger> log, std::string job_id)
    : options_(options),
      reporter_(reporter),
      resolve_(std::move(resolve)),
      on_error_(std::move(on_error)),
      log_(std::move(log)),
      job_id_(std::move(job_id)) {}

CheckpointUploader::~CheckpointUploader() {
  if (thread_.joinable()) Finish(/*flush=*/false);
}

void CheckpointUploader::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void CheckpointUploader::Offer(EngineFile part) {
  std::vector<EngineFile> dropped;
  {
    absl::MutexLock lock(&mu_);
    if (finishing_) {
      dropped.push_back(std::move(part));
    } else if (part.part == CheckpointPart::kBlock) {
      blocks_.push_back(Queued{std::move(part), blocks_offered_++});
    } else {
      streams_.push_back(Queued{std::move(part), blocks_offered_});
      dropped = PruneStreams();
    }
    stats_.superseded += dropped.size();
  }
  for (const EngineFile& file : dropped) Discard(file);
}

std::vector<EngineFile> CheckpointUploader::PruneStreams() {
  std::vector<EngineFile> dropped;
  std::deque<Queued> kept;
  for (size_t i = 0; i < streams_.size(); ++i) {
    const bool newest = i + 1 == streams_.size();
    const bool newest_eligible =
        Eligible(streams_[i]) && (newest || !Eligible(streams_[i + 1]));
    if (newest || newest_eligible) {
      kept.push_back(std::move(streams_[i]));
    } else {
      dropped.push_back(std::move(streams_[i].file));
    }
  }
  streams_ = std::move(kept);
  return dropped;
}

CheckpointUploadStats CheckpointUploader::Finish(bool flush) {
  {
    absl::MutexLock lock(&mu_);
    finishing_ = true;
    flush_ = flush;
  }
  if (thread_.joinable()) thread_.join();
  std::deque<Queued> left;
  CheckpointUploadStats stats;
  {
    absl::MutexLock lock(&mu_);
    left = std::exchange(blocks_, {});
    for (Queued& streams : std::exchange(streams_, {})) {
      left.push_back(std::move(streams));
    }
    stats_.superseded += left.size();
    stats = stats_;
  }
  // Never started: Finish(false).
  for (const Queued& part : left) Discard(part.file);
  return stats;
}

std::optional<CheckpointUploader::Queued> CheckpointUploader::Next() {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return finishing_ || !blocks_.empty() ||
           (!streams_.empty() && Eligible(streams_.front()));
  };
  // Wakes a wait for the interval early; a newer streams part just joins
  // the waiting ones.
  auto block_or_finish = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return finishing_ || !blocks_.empty();
  };
  while (true) {
    mu_.Await(absl::Condition(&ready));
    if (finishing_ && !flush_) return std::nullopt;
    // After pruning only the front can be eligible without being the
    // newest: the front is the one to send when the interval allows, even
    // with block parts queued, so that a backlog of blocks never starves
    // the commit point.
    const bool sendable = !streams_.empty() && Eligible(streams_.front());
    if (!finishing_ && sendable && absl::Now() >= next_start_) {
      next_start_ = absl::Now() + options_.min_interval;
      Queued streams = std::move(streams_.front());
      streams_.pop_front();
      return streams;
    }
    if (!blocks_.empty()) {
      Queued block = std::move(blocks_.front());
      blocks_.pop_front();
      ++blocks_taken_;
      // A streams part waiting on this block may now outrank older ones.
      for (const EngineFile& file : PruneStreams()) {
        ++stats_.superseded;
        Discard(file);
      }
      return block;
    }
    // Flushing: every block part is out, so the newest streams part (all
    // that pruning left) goes once; the loop then finds nothing and ends.
    if (finishing_) {
      if (streams_.empty()) return std::nullopt;
      Queued streams = std::move(streams_.back());
      streams_.pop_back();
      for (const Queued& older : streams_) {
        ++stats_.superseded;
        Discard(older.file);
      }
      streams_.clear();
      return streams;
    }
    mu_.AwaitWithDeadline(absl::Condition(&block_or_finish), next_start_);
  }
}

void CheckpointUploader::Loop() {
  while (std::optional<Queued> part = Next()) {
    Upload(*part);
    Discard(part->file);
  }
}

bool CheckpointUploader::BlocksUploadedBefore(const Queued& streams) {
  absl::MutexLock lock(&mu_);
  if (!first_lost_block_.has_value() ||
      *first_lost_block_ >= streams.sequence) {
    return true;
  }
  ++stats_.failed;
  return false;
}

void CheckpointUploader::Upload(const Queued& part) {
  const EngineFile& file = part.file;
  const bool block = file.part == CheckpointPart::kBlock;
  if (!block && !BlocksUploadedBefore(part)) {
    log_->warn(
        "job={} checkpoint streams block={} not uploaded: a block "
        "file before it was not",
        job_id_, file.block_index);
    return;
  }
  quantd::v1::Artifact artifact;
  artifact.set_name(file.name);
  artifact.set_kind("checkpoint");
  artifact.set_blob(BlobRef(file.sha256_hex));
  artifact.set_size_bytes(file.size_bytes);
  const absl::StatusOr<std::string> path = resolve_(file.path);
  const absl::StatusOr<quantd::v1::Artifact> uploaded =
      path.ok() ? reporter_.UploadArtifact(*path, artifact)
                : absl::StatusOr<quantd::v1::Artifact>(path.status());
  const absl::StatusCode code =
      uploaded.ok() ? absl::StatusCode::kOk : uploaded.status().code();
  Record(part, code);
  if (code == absl::StatusCode::kOk) {
    log_->info("job={} checkpoint {} block={} uploaded bytes={}", job_id_,
               file.name, file.block_index, file.size_bytes);
  } else if (code == absl::StatusCode::kDataLoss) {
    log_->debug("job={} checkpoint {} block={} changed before its upload: {}",
                job_id_, file.name, file.block_index,
                uploaded.status().ToString());
  } else if (on_error_) {
    // A lost checkpoint only costs resume progress; the owner decides what
    // a lost lease means.
    on_error_(uploaded.status());
  }
}

void CheckpointUploader::Record(const Queued& part, absl::StatusCode code) {
  const bool block = part.file.part == CheckpointPart::kBlock;
  absl::MutexLock lock(&mu_);
  if (code == absl::StatusCode::kOk) {
    ++stats_.uploaded;
    stats_.bytes_uploaded += part.file.size_bytes;
    if (!block) stats_.last_uploaded_block = part.file.block_index;
  } else if (code == absl::StatusCode::kDataLoss) {
    ++stats_.superseded;  // The engine replaced the file after its event.
  } else {
    ++stats_.failed;
  }
  if (block && code != absl::StatusCode::kOk &&
      !first_lost_block_.has_value()) {
    first_lost_block_ = part.sequence;
  }
}

void CheckpointUploader::Discard(const EngineFile& part) {
  if (!part.pinned) return;
  std::error_code ignored;  // The work dir's removal catches what is left.
  std::filesystem::remove(part.path, ignored);
}

}  // namespace quantd::agent
