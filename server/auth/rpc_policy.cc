#include "server/auth/rpc_policy.h"

namespace quantd::auth {
namespace {

struct Rule {
  std::string_view rpc;
  RoleSet roles;
  bool changes_state;
};

constexpr RoleSet kSubmit{Role::kSubmit, Role::kAdmin};
constexpr RoleSet kRead{Role::kRead, Role::kAdmin};
// DownloadArtifact by job needs read; by blob reference (a job's inputs)
// worker or admin. The handler checks which form was used.
constexpr RoleSet kDownload{Role::kRead, Role::kAdmin, Role::kWorker};
constexpr RoleSet kWorker{Role::kWorker};

constexpr Rule kRules[] = {
    {"JobService.SubmitJob", kSubmit, true},
    {"JobService.CancelJob", kSubmit, true},
    {"JobService.UploadBlob", kSubmit, true},
    {"JobService.GetJob", kRead, false},
    {"JobService.ListJobs", kRead, false},
    {"JobService.WatchJob", kRead, false},
    {"JobService.ListArtifacts", kRead, false},
    {"JobService.ListWorkers", kRead, false},
    {"JobService.DownloadArtifact", kDownload, false},
    {"WorkerGateway.RegisterWorker", kWorker, true},
    {"WorkerGateway.LeaseJob", kWorker, true},
    {"WorkerGateway.Heartbeat", kWorker, false},
    {"WorkerGateway.ReportEvents", kWorker, true},
    {"WorkerGateway.UploadArtifact", kWorker, true},
    {"WorkerGateway.CompleteJob", kWorker, true},
};

const Rule* Find(std::string_view rpc) {
  for (const Rule& rule : kRules) {
    if (rule.rpc == rpc) return &rule;
  }
  return nullptr;
}

}  // namespace

std::optional<RoleSet> AllowedRoles(std::string_view rpc) {
  const Rule* rule = Find(rpc);
  if (rule == nullptr) return std::nullopt;
  return rule->roles;
}

bool IsWorkerRpc(std::string_view rpc) {
  return rpc.substr(0, 14) == "WorkerGateway.";
}

bool ChangesState(std::string_view rpc) {
  const Rule* rule = Find(rpc);
  return rule != nullptr && rule->changes_state;
}

}  // namespace quantd::auth
