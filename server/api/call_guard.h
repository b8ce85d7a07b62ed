// CallGuard: the first and last step of every RPC handler. Admit()
// authenticates the call (bearer token, or the trusted quantd-tenant
// metadata when authentication is off), checks the RPC's access policy
// (server/auth/rpc_policy.h) and, for WorkerGateway calls under mutual TLS,
// a verified client certificate; Conclude() maps the result so that nothing
// leaks and writes the audit line.
//
// Why a check at the top of each handler rather than an interceptor or an
// AuthMetadataProcessor: a processor only runs on secure credentials (auth
// must also work on a plaintext loopback listener), gRPC 1.51's server
// interceptors cannot end a callback call with a status, and each handler
// needs the principal anyway (tenant scoping). rpc_policy_test makes sure
// every RPC of both services has a policy entry, and Admit() refuses an RPC
// without one.
//
// Leaks: with authentication on, a job that does not exist and another
// tenant's job look the same to a non-admin: PERMISSION_DENIED "job <id>
// is not accessible". Refusals say what is missing (a token, a role), never
// whose job it is.
//
// Ownership: borrows the token store and audit log (either may be null:
// no authentication / no audit lines). Thread-safety: safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "grpcpp/server_context.h"
#include "server/api/request_limits.h"
#include "server/auth/audit_log.h"
#include "server/auth/roles.h"
#include "server/auth/token_store.h"
#include "server/scheduler/scheduler.h"

namespace quantd::api {

// The tenant name an admin's reads and cancels run under; no token or
// metadata can name it. main.cc lists it in the scheduler's admin tenants.
inline constexpr char kAdminViewTenant[] = "*";

struct GuardOptions {
  // Null: authentication off (loopback without a token file).
  auth::TokenStore* tokens = nullptr;
  // Null: no audit lines.
  auth::AuditLog* audit = nullptr;
  // WorkerGateway calls (and blob downloads by workers) need a verified
  // TLS client certificate. Set when tls.client_ca_file is.
  bool worker_client_cert_required = false;
  MessageLimits limits;
};

// An admitted call: who, and from where.
struct CallIdentity {
  auth::Principal principal;
  std::string peer;
};

// How Conclude() treats NOT_FOUND.
enum class Subject {
  // Pass every status through.
  kPlain,
  // The call names a job: NOT_FOUND becomes PERMISSION_DENIED for
  // non-admins when authentication is on.
  kJob,
};

class CallGuard {
 public:
  explicit CallGuard(GuardOptions options) : options_(options) {}

  // The caller of `rpc` ("JobService.GetJob"), or UNAUTHENTICATED /
  // PERMISSION_DENIED (audited). `request`, when given, is checked against
  // the message limits (INVALID_ARGUMENT, not audited).
  [[nodiscard]] absl::StatusOr<CallIdentity> Admit(
      const grpc::CallbackServerContext* context, std::string_view rpc,
      const google::protobuf::Message* request = nullptr) const;

  // Mutual TLS for workers: UNAUTHENTICATED (audited) when required and the
  // peer presented no verified certificate.
  [[nodiscard]] absl::Status CheckWorkerCertificate(
      const grpc::CallbackServerContext* context, std::string_view rpc,
      const CallIdentity& who) const;

  // The scheduler's caller for reads and cancels (admins: every tenant)
  // and for what the principal creates (always its own tenant).
  scheduler::Caller Viewer(const auth::Principal& principal) const;
  scheduler::Caller Owner(const auth::Principal& principal) const;
  bool IsAdmin(const auth::Principal& principal) const;
  bool enabled() const { return options_.tokens != nullptr; }
  const MessageLimits& limits() const { return options_.limits; }

  // Maps `status` (see Subject) and audits the call when it changes state
  // or was refused. Returns the status to reply with.
  absl::Status Conclude(std::string_view rpc, const CallIdentity& who,
                        std::string_view job_id, const absl::Status& status,
                        Subject subject = Subject::kPlain,
                        std::string_view detail = "") const;
  // Writes one audit line.
  void Audit(std::string_view rpc, const CallIdentity& who,
             std::string_view job_id, const absl::Status& status,
             std::string_view reason, std::string_view detail = "") const;

 private:
  absl::StatusOr<auth::Principal> Authenticate(
      const grpc::CallbackServerContext* context, std::string_view rpc,
      const std::string& peer) const;

  const GuardOptions options_;
};

}  // namespace quantd::api
