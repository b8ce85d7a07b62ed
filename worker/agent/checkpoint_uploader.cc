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

void CheckpointUploader::Offer(EngineFile checkpoint) {
  std::optional<EngineFile> replaced;
  {
    absl::MutexLock lock(&mu_);
    if (finishing_) {
      replaced = std::move(checkpoint);
    } else {
      replaced = std::exchange(pending_, std::move(checkpoint));
    }
    if (replaced.has_value()) ++stats_.superseded;
  }
  if (replaced.has_value()) Discard(*replaced);
}

CheckpointUploadStats CheckpointUploader::Finish(bool flush) {
  {
    absl::MutexLock lock(&mu_);
    finishing_ = true;
    flush_ = flush;
  }
  if (thread_.joinable()) thread_.join();
  std::optional<EngineFile> left;
  CheckpointUploadStats stats;
  {
    absl::MutexLock lock(&mu_);
    left = std::exchange(pending_, std::nullopt);
    if (left.has_value()) ++stats_.superseded;
    stats = stats_;
  }
  if (left.has_value()) Discard(*left);  // Never started: Finish(false).
  return stats;
}

std::optional<EngineFile> CheckpointUploader::Next() {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return finishing_ || pending_.has_value();
  };
  while (true) {
    mu_.Await(absl::Condition(&ready));
    if (finishing_) {
      if (!flush_) return std::nullopt;
      // Sent once, below; the loop then finds nothing left and ends.
      return std::exchange(pending_, std::nullopt);
    }
    if (absl::Now() >= next_start_) {
      next_start_ = absl::Now() + options_.min_interval;
      return std::exchange(pending_, std::nullopt);
    }
    // Wakes early only to finish; a newer offer just replaces the file.
    mu_.AwaitWithDeadline(absl::Condition(&finishing_), next_start_);
  }
}

void CheckpointUploader::Loop() {
  while (std::optional<EngineFile> checkpoint = Next()) {
    Upload(*checkpoint);
    Discard(*checkpoint);
  }
}

void CheckpointUploader::Upload(const EngineFile& checkpoint) {
  quantd::v1::Artifact artifact;
  artifact.set_name("checkpoint");
  artifact.set_kind("checkpoint");
  artifact.set_blob(BlobRef(checkpoint.sha256_hex));
  artifact.set_size_bytes(checkpoint.size_bytes);
  const absl::StatusOr<std::string> path = resolve_(checkpoint.path);
  const absl::StatusOr<quantd::v1::Artifact> uploaded =
      path.ok() ? reporter_.UploadArtifact(*path, artifact)
                : absl::StatusOr<quantd::v1::Artifact>(path.status());
  const absl::StatusCode code =
      uploaded.ok() ? absl::StatusCode::kOk : uploaded.status().code();
  {
    absl::MutexLock lock(&mu_);
    if (code == absl::StatusCode::kOk) {
      ++stats_.uploaded;
      stats_.last_uploaded_block = checkpoint.block_index;
    } else if (code == absl::StatusCode::kDataLoss) {
      ++stats_.superseded;  // The engine replaced the file after its event.
    } else {
      ++stats_.failed;
    }
  }
  if (code == absl::StatusCode::kOk) {
    log_->info("job={} checkpoint block={} uploaded bytes={}", job_id_,
               checkpoint.block_index, checkpoint.size_bytes);
  } else if (code == absl::StatusCode::kDataLoss) {
    log_->debug("job={} checkpoint block={} changed before its upload: {}",
                job_id_, checkpoint.block_index, uploaded.status().ToString());
  } else if (on_error_) {
    // A lost checkpoint only costs resume progress; the owner decides what
    // a lost lease means.
    on_error_(uploaded.status());
  }
}

void CheckpointUploader::Discard(const EngineFile& checkpoint) {
  if (!checkpoint.pinned) return;
  std::error_code ignored;  // The work dir's removal catches what is left.
  std::filesystem::remove(checkpoint.path, ignored);
}

}  // namespace quantd::agent
