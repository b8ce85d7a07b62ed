#include "server/api/status_mapping.h"

#include <string>

#include "common/status.h"
#include "quantd/v1/types.pb.h"
#include "server/auth/roles.h"

namespace quantd::api {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

grpc::Status Reply(grpc::CallbackServerContext* context,
                   const absl::Status& status, spdlog::logger& log,
                   const char* rpc) {
  if (status.ok()) return grpc::Status::OK;
  quantd::v1::ErrorInfo error;
  error.set_code(static_cast<int32_t>(status.code()));
  error.set_message(std::string(status.message()));
  error.set_field(FieldOfError(status));
  context->AddTrailingMetadata(kErrorInfoKey, error.SerializeAsString());
  switch (status.code()) {
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss:
      log.error("rpc={} {}", rpc, status.ToString());
      break;
    default:
      log.debug("rpc={} {}", rpc, status.ToString());
  }
  return ToGrpcStatus(status);
}

absl::StatusOr<scheduler::Caller> CallerOf(
    const grpc::CallbackServerContext* context) {
  scheduler::Caller caller;
  const auto& metadata = context->client_metadata();
  auto it = metadata.find(kTenantKey);
  if (it == metadata.end()) return caller;
  const std::string tenant(it->second.data(), it->second.size());
  if (!auth::IsValidTenant(tenant)) {
    return InvalidFieldError(
        kTenantKey,
        "must be 1..63 characters of [a-z0-9._-], starting with a letter or "
        "digit");
  }
  caller.tenant = tenant;
  return caller;
}

}  // namespace quantd::api
