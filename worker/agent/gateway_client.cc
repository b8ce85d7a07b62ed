#include "worker/agent/gateway_client.h"

#include <utility>

#include "absl/time/clock.h"

namespace quantd::agent {

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

GatewayClient::GatewayClient(std::shared_ptr<grpc::Channel> channel,
                             GatewayClientOptions options)
    : options_(std::move(options)),
      gateway_(quantd::v1::WorkerGateway::NewStub(channel)),
      jobs_(quantd::v1::JobService::NewStub(channel)) {}

std::unique_ptr<grpc::ClientContext> GatewayClient::NewContext(
    absl::Duration timeout) const {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!options_.auth_token.empty()) {
    context->AddMetadata("authorization", "Bearer " + options_.auth_token);
  }
  if (timeout != absl::InfiniteDuration()) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
  return context;
}

}  // namespace quantd::agent
