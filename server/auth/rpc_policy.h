// The access policy: which roles may call each RPC of quantd.v1.JobService
// and quantd.v1.WorkerGateway, by short name ("JobService.SubmitJob"). An
// RPC missing from the table is refused (a new RPC must be added here; a
// unit test walks both service descriptors to enforce it).
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string_view>

#include "server/auth/roles.h"

namespace quantd::auth {

// Roles of which the caller needs at least one; nullopt for an unknown RPC.
std::optional<RoleSet> AllowedRoles(std::string_view rpc);

// True for WorkerGateway calls: with mutual TLS configured they also need
// a verified client certificate.
bool IsWorkerRpc(std::string_view rpc);

// True for the calls whose outcome is always audited (they change state);
// refused calls are audited whatever they are.
bool ChangesState(std::string_view rpc);

}  // namespace quantd::auth
