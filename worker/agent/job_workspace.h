// JobWorkspace: the directory one leased job runs in, under the worker's
// --work-dir, named "<job id>-<fencing token>" so that two leases of the
// same job never share one. It lays out what the engine expects
// (docs/formats/engine-protocol.md): the inputs the scheduler sent as blobs
// downloaded under inputs/, the lease's resume checkpoint files each at
// DIR/<artifact name> (under checkpoint/), and spec.json with every DataRef
// rewritten to a local file:// URI. The engine's stderr goes to engine.log;
// uploads/ holds the checkpoint parts pinned for upload (PinCheckpoint).
//
// The directory is removed when the workspace is destroyed unless Keep()
// was called. A marker file lets RemoveStaleWorkspaces() clean up after a
// crashed worker without touching anything it did not create.
//
// Thread-safety: not thread-safe; owned by the job's runner.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "quantd/v1/worker.pb.h"
#include "worker/agent/blob_download.h"
#include "worker/agent/engine_event.h"

namespace quantd::agent {

class JobWorkspace {
 public:
  // Creates (emptying a leftover) root/<job_id>-<fencing_token>. The job id
  // must be 1..128 characters of [A-Za-z0-9_-].
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<JobWorkspace>> Create(
      const std::string& root, const std::string& job_id,
      uint64_t fencing_token);
  ~JobWorkspace();
  JobWorkspace(const JobWorkspace&) = delete;
  JobWorkspace& operator=(const JobWorkspace&) = delete;

  const std::string& dir() const { return dir_; }
  std::string spec_path() const { return dir_ + "/spec.json"; }
  std::string engine_log_path() const { return dir_ + "/engine.log"; }

  // Downloads blob inputs and every file of the lease's resume_files (each
  // to DIR/<name>; a name that CheckCheckpointFileName rejects is an
  // InvalidArgument naming resume_files[i].name) with `download`, then
  // writes spec.json. Returns the spec as written.
  [[nodiscard]] absl::StatusOr<quantd::v1::JobSpec> Prepare(
      const quantd::v1::Lease& lease, const BlobDownloader& download);

  // The absolute path of a file the engine reported, which must lie inside
  // the workspace (relative paths are taken from it); InvalidArgument
  // otherwise, since the report comes from another program.
  [[nodiscard]] absl::StatusOr<std::string> Resolve(
      absl::string_view path) const;

  // Gives the checkpoint part `file` announces a private name (a hard link
  // under uploads/), so that its content stays as announced while the
  // engine renames a newer streams file over its path (or, resumed,
  // rewrites a block file). Returns the file with `path` set to the link
  // and `pinned` set; errors if the announced path is outside the
  // workspace or cannot be linked.
  [[nodiscard]] absl::StatusOr<EngineFile> PinCheckpoint(
      const EngineFile& file);

  // Leaves the directory in place on destruction (for post-mortems).
  void Keep() { keep_ = true; }

 private:
  explicit JobWorkspace(std::string dir) : dir_(std::move(dir)) {}
  absl::StatusOr<std::string> Materialize(const quantd::v1::DataRef& ref,
                                          absl::string_view role,
                                          const BlobDownloader& download);
  absl::Status DownloadResumeFiles(const quantd::v1::Lease& lease,
                                   const BlobDownloader& download);

  const std::string dir_;
  bool keep_ = false;
  // Numbers the pinned checkpoint parts, so that no two share a name.
  uint64_t pinned_count_ = 0;
};

// Removes the workspaces (and only those) that a previous run of the worker
// left under `root`. Returns how many were removed.
[[nodiscard]] absl::StatusOr<int> RemoveStaleWorkspaces(
    const std::string& root);

// The JobSpec as the engine reads it: proto3 JSON with the original field
// names.
[[nodiscard]] absl::StatusOr<std::string> SpecToJson(
    const quantd::v1::JobSpec& spec);

}  // namespace quantd::agent
