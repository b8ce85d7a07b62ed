#include "server/api/call_guard.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "server/api/status_mapping.h"
#include "server/auth/rpc_policy.h"

namespace quantd::api {
namespace {

constexpr char kAuthorizationKey[] = "authorization";
constexpr size_t kMaxEchoedIdBytes = 128;

// The single "authorization" value; a repeated one is malformed ("").
std::optional<std::string_view> AuthorizationOf(
    const grpc::CallbackServerContext* context) {
  const auto& metadata = context->client_metadata();
  auto [first, last] = metadata.equal_range(kAuthorizationKey);
  if (first == last) return std::nullopt;
  if (std::next(first) != last) return std::string_view();
  return std::string_view(first->second.data(), first->second.size());
}

bool IsRefusal(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnauthenticated ||
         status.code() == absl::StatusCode::kPermissionDenied;
}

}  // namespace

absl::StatusOr<auth::Principal> CallGuard::Authenticate(
    const grpc::CallbackServerContext* context, std::string_view rpc,
    const std::string& peer) const {
  if (!enabled()) {
    // Trusted metadata, as before authentication existed (loopback only).
    QUANTD_ASSIGN_OR_RETURN(scheduler::Caller caller, CallerOf(context));
    return auth::Principal{
        caller.tenant,
        {auth::Role::kSubmit, auth::Role::kRead, auth::Role::kWorker},
        ""};
  }
  auth::Authentication result =
      options_.tokens->Authenticate(AuthorizationOf(context));
  if (!result.principal.ok()) {
    auth::Principal unknown{"", {}, result.token_id};
    Audit(rpc, {unknown, peer}, "", result.principal.status(), result.failure);
  }
  return std::move(result.principal);
}

absl::StatusOr<CallIdentity> CallGuard::Admit(
    const grpc::CallbackServerContext* context, std::string_view rpc,
    const google::protobuf::Message* request) const {
  std::string peer = context->peer();
  QUANTD_ASSIGN_OR_RETURN(auth::Principal principal,
                          Authenticate(context, rpc, peer));
  CallIdentity who{std::move(principal), std::move(peer)};
  std::optional<auth::RoleSet> allowed = auth::AllowedRoles(rpc);
  if (!allowed.has_value() || !who.principal.roles.Intersects(*allowed)) {
    absl::Status denied = absl::PermissionDeniedError(
        absl::StrCat("this token may not call ", std::string(rpc)));
    Audit(rpc, who, "", denied, "role");
    return denied;
  }
  if (auth::IsWorkerRpc(rpc)) {
    QUANTD_RETURN_IF_ERROR(CheckWorkerCertificate(context, rpc, who));
  }
  if (request != nullptr) {
    QUANTD_RETURN_IF_ERROR(CheckMessageLimits(*request, options_.limits));
  }
  return who;
}

absl::Status CallGuard::CheckWorkerCertificate(
    const grpc::CallbackServerContext* context, std::string_view rpc,
    const CallIdentity& who) const {
  if (!options_.worker_client_cert_required) return absl::OkStatus();
  auto peer = context->auth_context();
  if (peer != nullptr && peer->IsPeerAuthenticated()) return absl::OkStatus();
  absl::Status refused = absl::UnauthenticatedError(
      "workers must present a TLS client certificate signed by the "
      "configured client CA");
  Audit(rpc, who, "", refused, "client_certificate");
  return refused;
}

bool CallGuard::IsAdmin(const auth::Principal& principal) const {
  return enabled() && principal.roles.Has(auth::Role::kAdmin);
}

scheduler::Caller CallGuard::Viewer(const auth::Principal& principal) const {
  if (IsAdmin(principal)) return scheduler::Caller{kAdminViewTenant};
  return scheduler::Caller{principal.tenant};
}

scheduler::Caller CallGuard::Owner(const auth::Principal& principal) const {
  return scheduler::Caller{principal.tenant};
}

absl::Status CallGuard::Conclude(std::string_view rpc, const CallIdentity& who,
                                 std::string_view job_id,
                                 const absl::Status& status, Subject subject,
                                 std::string_view detail) const {
  absl::Status out = status;
  std::string_view reason;
  if (subject == Subject::kJob && enabled() && !IsAdmin(who.principal) &&
      status.code() == absl::StatusCode::kNotFound) {
    // Missing and foreign jobs must read the same.
    out = absl::PermissionDeniedError(
        absl::StrCat("job ", std::string(job_id.substr(0, kMaxEchoedIdBytes)),
                     " is not accessible"));
    reason = "not_visible";
  } else if (IsRefusal(status)) {
    reason = "denied";
  }
  if (auth::ChangesState(rpc) || IsRefusal(out)) {
    Audit(rpc, who, job_id, out, reason, detail);
  }
  return out;
}

void CallGuard::Audit(std::string_view rpc, const CallIdentity& who,
                      std::string_view job_id, const absl::Status& status,
                      std::string_view reason, std::string_view detail) const {
  if (options_.audit == nullptr) return;
  options_.audit->Record({.rpc = std::string(rpc),
                          .tenant = who.principal.tenant,
                          .token_id = who.principal.token_id,
                          .peer = who.peer,
                          .job_id = std::string(job_id),
                          .outcome = auth::CodeName(status.code()),
                          .reason = std::string(reason),
                          .detail = std::string(detail)});
}

}  // namespace quantd::api
