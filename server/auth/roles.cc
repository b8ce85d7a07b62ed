#include "server/auth/roles.h"

#include "absl/strings/str_cat.h"

namespace quantd::auth {
namespace {

constexpr Role kAllRoles[] = {Role::kSubmit, Role::kRead, Role::kAdmin,
                              Role::kWorker};

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kSubmit:
      return "submit";
    case Role::kRead:
      return "read";
    case Role::kAdmin:
      return "admin";
    case Role::kWorker:
      return "worker";
  }
  return "unknown";
}

absl::StatusOr<Role> ParseRole(std::string_view name) {
  for (Role role : kAllRoles) {
    if (RoleName(role) == name) return role;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown role \"", std::string(name.substr(0, 32)),
                   "\" (known: submit, read, admin, worker)"));
}

std::string RoleSet::ToString() const {
  std::string out;
  for (Role role : kAllRoles) {
    if (!Has(role)) continue;
    if (!out.empty()) out += ',';
    out += RoleName(role);
  }
  return out;
}

bool IsValidTenant(std::string_view tenant) {
  if (tenant.empty() || tenant.size() > 63) return false;
  // Never ".." or ".": tenants name directories ("{tenant}" roots).
  if (!((tenant[0] >= 'a' && tenant[0] <= 'z') ||
        (tenant[0] >= '0' && tenant[0] <= '9'))) {
    return false;
  }
  for (char c : tenant) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace quantd::auth
