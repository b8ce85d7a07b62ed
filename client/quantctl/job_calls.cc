#include "client/quantctl/job_calls.h"

#include "absl/time/time.h"

namespace quantd::client {
namespace {

// Unary calls are short; a server that takes longer is stuck.
constexpr absl::Duration kCallTimeout = absl::Seconds(60);

template <typename Response, typename Request, typename Method>
absl::StatusOr<Response> Call(Connection& connection, const Request& request,
                              Method method) {
  auto context = connection.NewContext(kCallTimeout);
  Response response;
  const grpc::Status status =
      (connection.jobs().*method)(context.get(), request, &response);
  if (!status.ok()) return connection.FromGrpc(status);
  return response;
}

}  // namespace

absl::StatusOr<quantd::v1::Job> CallSubmitJob(
    Connection& connection, const quantd::v1::SubmitJobRequest& request) {
  return Call<quantd::v1::Job>(
      connection, request, &quantd::v1::JobService::StubInterface::SubmitJob);
}

absl::StatusOr<quantd::v1::Job> CallGetJob(Connection& connection,
                                           const std::string& id) {
  quantd::v1::GetJobRequest request;
  request.set_id(id);
  return Call<quantd::v1::Job>(connection, request,
                               &quantd::v1::JobService::StubInterface::GetJob);
}

absl::StatusOr<quantd::v1::ListJobsResponse> CallListJobs(
    Connection& connection, const quantd::v1::ListJobsRequest& request) {
  return Call<quantd::v1::ListJobsResponse>(
      connection, request, &quantd::v1::JobService::StubInterface::ListJobs);
}

absl::StatusOr<quantd::v1::Job> CallCancelJob(Connection& connection,
                                              const std::string& id,
                                              const std::string& reason) {
  quantd::v1::CancelJobRequest request;
  request.set_id(id);
  request.set_reason(reason);
  return Call<quantd::v1::Job>(
      connection, request, &quantd::v1::JobService::StubInterface::CancelJob);
}

absl::StatusOr<quantd::v1::ListArtifactsResponse> CallListArtifacts(
    Connection& connection, const std::string& job_id) {
  quantd::v1::ListArtifactsRequest request;
  request.set_job_id(job_id);
  return Call<quantd::v1::ListArtifactsResponse>(
      connection, request,
      &quantd::v1::JobService::StubInterface::ListArtifacts);
}

absl::StatusOr<quantd::v1::ListWorkersResponse> CallListWorkers(
    Connection& connection, bool include_lost) {
  quantd::v1::ListWorkersRequest request;
  request.set_include_lost(include_lost);
  return Call<quantd::v1::ListWorkersResponse>(
      connection, request, &quantd::v1::JobService::StubInterface::ListWorkers);
}

}  // namespace quantd::client
