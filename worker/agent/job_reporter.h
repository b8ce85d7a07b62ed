// JobReporter: everything a running job tells the scheduler, bound to one
// lease (its job id and fencing token). It is the seam between the job's
// logic and gRPC: GrpcJobReporter is the real one, tests substitute fakes.
//
// A FAILED_PRECONDITION from any method means the lease is lost: the job
// moved on to another holder and nothing more may be reported for it.
//
// Thread-safety: implementations are safe to call from any thread.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "quantd/v1/types.pb.h"
#include "quantd/v1/worker.pb.h"

namespace quantd::agent {

class JobReporter {
 public:
  virtual ~JobReporter() = default;

  // Reports `events` (no job id, sequence or time) in order.
  [[nodiscard]] virtual absl::Status ReportEvents(
      const std::vector<quantd::v1::JobEvent>& events) = 0;

  // Uploads the file at `path` as `artifact` (name, kind, blob and
  // size_bytes set; the file must match them). Returns the artifact as the
  // scheduler attached it.
  [[nodiscard]] virtual absl::StatusOr<quantd::v1::Artifact> UploadArtifact(
      const std::string& path, const quantd::v1::Artifact& artifact) = 0;

  // The job's final report; job id and fencing token are filled in.
  [[nodiscard]] virtual absl::StatusOr<quantd::v1::Job> CompleteJob(
      quantd::v1::CompleteJobRequest request) = 0;

  // Makes in-flight and later ReportEvents/UploadArtifact calls end with
  // CANCELLED (a cancelled job's uploads are worthless). CompleteJob is
  // unaffected.
  virtual void InterruptTransfers() = 0;
};

}  // namespace quantd::agent
