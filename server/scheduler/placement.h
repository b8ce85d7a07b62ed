// Placement: which worker may run which job. A worker's registered
// capabilities become a store::WorkerRecord whose placement keys match a
// job's (method, device kind, estimated memory); the same rule is applied
// in memory (Fits, for the submit-time check) and in the store's claim
// query (FilterFor), so the two never disagree.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quantd/v1/worker.pb.h"
#include "server/store/job_store.h"

namespace quantd::scheduler {

// The worker row for a registration: device kinds from device names
// ("cuda:0" -> "cuda"), the largest device memory, and 1 concurrent job by
// default. A worker with no devices counts as one CPU with its host memory.
// Its methods are the ones it lists plus the recipes they make
// (contract::RecipesOf), since a job's method is matched as a whole.
store::WorkerRecord WorkerFromRegistration(
    const quantd::v1::RegisterWorkerRequest& request, int64_t now_ms);

// True when `worker` could ever run `job` (ignoring current load).
bool Fits(const store::WorkerRecord& worker, const store::JobRecord& job);

// The claim filter for `worker` at `now_ms`.
store::ClaimFilter FilterFor(const store::WorkerRecord& worker, int64_t now_ms,
                             uint32_t max_running_per_tenant);

}  // namespace quantd::scheduler
