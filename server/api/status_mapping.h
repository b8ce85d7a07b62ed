// The one place where absl::Status becomes grpc::Status, and where the
// caller's identity is read from request metadata.
//
// Errors keep their canonical code (absl and gRPC share the numbering) and
// message ("field: reason" for INVALID_ARGUMENT). The same error is also
// attached as a serialised quantd.v1.ErrorInfo in the "quantd-error-bin"
// trailing metadata, so clients can read the field without parsing text.
#pragma once

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"
#include "server/scheduler/scheduler.h"
#include "spdlog/logger.h"

namespace quantd::api {

// Trailing metadata key of the ErrorInfo.
inline constexpr char kErrorInfoKey[] = "quantd-error-bin";
// Request metadata key naming the caller's tenant when authentication is
// off; absent = "default". Ignored when it is on (the token names it).
inline constexpr char kTenantKey[] = "quantd-tenant";

// Code and message, nothing else.
grpc::Status ToGrpcStatus(const absl::Status& status);

// Maps `status`, attaches the ErrorInfo to `context` when it is an error,
// and logs server-side faults (INTERNAL, UNKNOWN, DATA_LOSS) once.
grpc::Status Reply(grpc::CallbackServerContext* context,
                   const absl::Status& status, spdlog::logger& log,
                   const char* rpc);

// The tenant from the request metadata (auth::IsValidTenant).
absl::StatusOr<scheduler::Caller> CallerOf(
    const grpc::CallbackServerContext* context);

}  // namespace quantd::api
