// Roles a bearer token grants (submit, read, admin, worker), sets of them,
// and the authenticated caller of one RPC (a Principal).
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace quantd::auth {

enum class Role : uint8_t {
  // SubmitJob, CancelJob and UploadBlob on the token's tenant.
  kSubmit = 1,
  // GetJob, ListJobs, WatchJob, ListArtifacts, DownloadArtifact (by job),
  // ListWorkers, on the token's tenant.
  kRead = 2,
  // Every JobService call on every tenant.
  kAdmin = 4,
  // WorkerGateway, and DownloadArtifact by blob reference (job inputs).
  kWorker = 8,
};

class RoleSet {
 public:
  constexpr RoleSet() = default;
  constexpr RoleSet(std::initializer_list<Role> roles) {
    for (Role role : roles) bits_ |= static_cast<uint8_t>(role);
  }

  bool Has(Role role) const { return (bits_ & static_cast<uint8_t>(role)); }
  bool Intersects(RoleSet other) const { return (bits_ & other.bits_) != 0; }
  bool empty() const { return bits_ == 0; }
  void Add(Role role) { bits_ |= static_cast<uint8_t>(role); }
  bool operator==(const RoleSet& other) const = default;

  // "submit,read" in declaration order; "" when empty.
  std::string ToString() const;

 private:
  uint8_t bits_ = 0;
};

// "submit" -> Role::kSubmit; InvalidArgument for an unknown name.
[[nodiscard]] absl::StatusOr<Role> ParseRole(std::string_view name);
std::string_view RoleName(Role role);

// Who is making a call: the tenant and roles of its token.
struct Principal {
  std::string tenant = "default";
  RoleSet roles;
  // First 8 hex digits of sha256(token), for logs and the audit trail; ""
  // when authentication is off.
  std::string token_id;
};

// True for 1..63 characters of [a-z0-9._-] starting with a letter or a
// digit: the tenant names quantd accepts everywhere.
bool IsValidTenant(std::string_view tenant);

}  // namespace quantd::auth
