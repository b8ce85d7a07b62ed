// GatewayClient: the worker's connection to quantd. It holds the stubs of
// the WorkerGateway (leases, events, uploads) and of the JobService (blob
// downloads), and makes every call's context the same way: the bearer
// token and a deadline.
//
// Thread-safety: safe to use from any thread (gRPC stubs are).
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "quantd/v1/jobs.grpc.pb.h"
#include "quantd/v1/worker.grpc.pb.h"

namespace quantd::agent {

struct GatewayClientOptions {
  // Sent as "authorization: Bearer <token>" when non-empty.
  std::string auth_token;
  // Deadline of unary calls. Default 30 s.
  absl::Duration rpc_timeout = absl::Seconds(30);
  // Names the scheduler in log lines and errors, address and transport
  // included (DescribeSchedulerChannel). Default "quantd".
  std::string target = "quantd";
};

// grpc::Status -> absl::Status (the codes are the same numbers).
absl::Status FromGrpc(const grpc::Status& status);

class GatewayClient {
 public:
  GatewayClient(std::shared_ptr<grpc::Channel> channel,
                GatewayClientOptions options);

  quantd::v1::WorkerGateway::StubInterface& gateway() { return *gateway_; }
  quantd::v1::JobService::StubInterface& jobs() { return *jobs_; }
  const GatewayClientOptions& options() const { return options_; }

  // A context with the auth metadata and a deadline `timeout` from now
  // (none when `timeout` is infinite).
  std::unique_ptr<grpc::ClientContext> NewContext(absl::Duration timeout) const;
  // Same with the default unary deadline.
  std::unique_ptr<grpc::ClientContext> NewContext() const {
    return NewContext(options_.rpc_timeout);
  }

 private:
  const GatewayClientOptions options_;
  std::unique_ptr<quantd::v1::WorkerGateway::StubInterface> gateway_;
  std::unique_ptr<quantd::v1::JobService::StubInterface> jobs_;
};

}  // namespace quantd::agent
