// A connection to quantd: the gRPC channel (plain or TLS), the JobService
// stub, call contexts that carry the bearer token, and the conversion of
// failed calls into statuses whose messages say what to do (which address
// was unreachable, which flag sets the token).
//
// Thread-safety: safe to share once opened (gRPC channels and stubs are).
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/quantctl/client_config.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "quantd/v1/jobs.grpc.pb.h"

namespace quantd::client {

class Connection {
 public:
  // Reads the TLS files (InvalidArgument naming the flag when unreadable)
  // and creates the channel; does not connect yet.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Connection>> Open(
      const ConnectionOptions& options);

  // Waits up to the connect timeout; UNAVAILABLE naming the address.
  [[nodiscard]] absl::Status WaitConnected();

  // A context carrying the token, with a deadline `timeout` from now
  // (none for an infinite duration, as streams need).
  std::unique_ptr<grpc::ClientContext> NewContext(
      absl::Duration timeout = absl::InfiniteDuration()) const;

  quantd::v1::JobService::StubInterface& jobs() { return *stub_; }
  const std::string& address() const { return options_.address; }

  // The status of a failed call, with context for people.
  absl::Status FromGrpc(const grpc::Status& status) const;

 private:
  Connection(ConnectionOptions options, std::shared_ptr<grpc::Channel> channel);

  ConnectionOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<quantd::v1::JobService::Stub> stub_;
};

// The plain conversion: same code, same message.
absl::Status StatusFromGrpc(const grpc::Status& status);

}  // namespace quantd::client
