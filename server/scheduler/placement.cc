#include "server/scheduler/placement.h"

#include <algorithm>

#include "contract/recipe.h"

namespace quantd::scheduler {
namespace {

bool Contains(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

}  // namespace

store::WorkerRecord WorkerFromRegistration(
    const quantd::v1::RegisterWorkerRequest& request, int64_t now_ms) {
  const auto& capabilities = request.capabilities();
  store::WorkerRecord worker;
  worker.id = request.worker_id();
  worker.capabilities = capabilities.SerializeAsString();
  worker.host_memory_bytes = capabilities.host_memory_bytes();
  for (const auto& device : capabilities.devices()) {
    const std::string kind = device.name().substr(0, device.name().find(':'));
    if (!Contains(worker.device_kinds, kind))
      worker.device_kinds.push_back(kind);
    // A CPU "device" uses host memory when it states none of its own.
    const uint64_t memory = device.memory_bytes() != 0 || kind != "cpu"
                                ? device.memory_bytes()
                                : capabilities.host_memory_bytes();
    worker.device_memory_bytes = std::max(worker.device_memory_bytes, memory);
  }
  if (worker.device_kinds.empty()) {
    worker.device_kinds.push_back("cpu");
    worker.device_memory_bytes = capabilities.host_memory_bytes();
  }
  worker.methods.assign(capabilities.methods().begin(),
                        capabilities.methods().end());
  // The recipes its methods make (a job's method is matched as a whole).
  for (std::string& recipe : contract::RecipesOf(worker.methods)) {
    if (!Contains(worker.methods, recipe)) {
      worker.methods.push_back(std::move(recipe));
    }
  }
  worker.max_concurrent_jobs =
      std::max<uint32_t>(capabilities.max_concurrent_jobs(), 1);
  worker.registered_time_ms = now_ms;
  worker.last_seen_ms = now_ms;
  return worker;
}

bool Fits(const store::WorkerRecord& worker, const store::JobRecord& job) {
  if (!job.device.empty() && !Contains(worker.device_kinds, job.device)) {
    return false;
  }
  if (!worker.methods.empty() && !Contains(worker.methods, job.method)) {
    return false;
  }
  return job.device_memory_bytes <= worker.device_memory_bytes &&
         job.host_memory_bytes <= worker.host_memory_bytes;
}

store::ClaimFilter FilterFor(const store::WorkerRecord& worker, int64_t now_ms,
                             uint32_t max_running_per_tenant) {
  store::ClaimFilter filter;
  filter.worker_id = worker.id;
  filter.now_ms = now_ms;
  filter.device_kinds = worker.device_kinds;
  filter.device_memory_bytes = worker.device_memory_bytes;
  filter.host_memory_bytes = worker.host_memory_bytes;
  filter.methods = worker.methods;
  filter.max_jobs_for_worker = worker.max_concurrent_jobs;
  filter.max_running_per_tenant = max_running_per_tenant;
  return filter;
}

}  // namespace quantd::scheduler
