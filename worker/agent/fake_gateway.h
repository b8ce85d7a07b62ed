// FakeGateway: an in-process quantd stand-in for the worker's tests — a
// real gRPC server on 127.0.0.1 that implements the WorkerGateway and
// JobService.DownloadArtifact, hands out the leases a test queues, records
// every call, checks fencing tokens like the scheduler does, and can be told
// to cancel, revoke or fail calls.
//
// Thread-safety: all methods are safe from any thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "quantd/v1/jobs.grpc.pb.h"
#include "quantd/v1/worker.grpc.pb.h"

namespace quantd::agent::testing {

// Everything the fake has seen, and what it is told to do.
struct FakeGatewayState {
  // Given by RegisterWorker.
  double heartbeat_interval_seconds = 0.1;
  std::deque<quantd::v1::Lease> leases;
  // job id -> the token of its current lease.
  std::map<std::string, uint64_t> tokens;
  // Blobs served by DownloadArtifact, by reference.
  std::map<std::string, std::string> blobs;

  int registrations = 0;
  int heartbeats = 0;
  std::vector<quantd::v1::HeartbeatRequest> heartbeat_requests;
  std::vector<quantd::v1::JobEvent> events;
  // Events of calls refused for a lost lease (not part of the job's log).
  std::vector<quantd::v1::JobEvent> rejected_events;
  struct Upload {
    quantd::v1::UploadArtifactHeader header;
    std::string data;
    bool accepted = false;
  };
  std::vector<Upload> uploads;
  std::vector<quantd::v1::CompleteJobRequest> completions;

  // Answered in every heartbeat while set.
  std::set<std::string> cancel_job_ids;
  std::set<std::string> revoked_job_ids;
  // Jobs whose lease is lost: every call about them is FAILED_PRECONDITION.
  std::set<std::string> lost_job_ids;
  // The next N uploads fail with UNAVAILABLE after their bytes arrived.
  int failing_uploads = 0;

  // Accepted uploads named `name`.
  std::vector<const Upload*> AcceptedUploads(const std::string& name) const;
  // Log lines reported so far (refused ones included), joined with '\n'.
  std::string LogText() const;
};

class FakeGateway {
 public:
  FakeGateway();
  ~FakeGateway();

  const std::string& address() const { return address_; }

  // Edits the state under the lock.
  void Update(const std::function<void(FakeGatewayState&)>& edit);
  // Waits until `ready(state)` holds; false after `timeout`.
  bool WaitUntil(const std::function<bool(const FakeGatewayState&)>& ready,
                 absl::Duration timeout = absl::Seconds(60));
  // A copy of the state.
  FakeGatewayState Snapshot();

 private:
  class WorkerService;
  class JobsService;

  absl::Mutex mu_;
  FakeGatewayState state_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<WorkerService> worker_service_;
  std::unique_ptr<JobsService> jobs_service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

}  // namespace quantd::agent::testing
