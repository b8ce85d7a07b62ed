// The unary JobService calls quantctl makes, as StatusOr functions with a
// per-call deadline and errors already converted by Connection::FromGrpc.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "client/quantctl/connection.h"
#include "quantd/v1/jobs.pb.h"

namespace quantd::client {

[[nodiscard]] absl::StatusOr<quantd::v1::Job> CallSubmitJob(
    Connection& connection, const quantd::v1::SubmitJobRequest& request);
[[nodiscard]] absl::StatusOr<quantd::v1::Job> CallGetJob(Connection& connection,
                                                         const std::string& id);
[[nodiscard]] absl::StatusOr<quantd::v1::ListJobsResponse> CallListJobs(
    Connection& connection, const quantd::v1::ListJobsRequest& request);
[[nodiscard]] absl::StatusOr<quantd::v1::Job> CallCancelJob(
    Connection& connection, const std::string& id, const std::string& reason);
[[nodiscard]] absl::StatusOr<quantd::v1::ListArtifactsResponse>
CallListArtifacts(Connection& connection, const std::string& job_id);
[[nodiscard]] absl::StatusOr<quantd::v1::ListWorkersResponse> CallListWorkers(
    Connection& connection, bool include_lost);

}  // namespace quantd::client
