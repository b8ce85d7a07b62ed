// The pre-flight estimate of a job's peak memory, used for placement and
// for rejecting at submit a job no worker could ever run. A heuristic
// sized on purpose to err high; it follows the engine's block-wise
// pipeline (docs/DESIGN.md §3): one block resident in fp32 (original and
// transformed), the embedding, and a few activation streams of the
// calibration set (n_samples x seq_len x hidden). The host figure does not
// grow with the depth: finished blocks live on disk, not in memory.
#pragma once

#include <cstdint>

#include "quantd/v1/types.pb.h"
#include "server/scheduler/model_inspector.h"

namespace quantd::scheduler {

struct MemoryEstimate {
  uint64_t device_memory_bytes = 0;
  uint64_t host_memory_bytes = 0;
};

// `spec` must be normalised (calibration defaults filled in). When the
// model's shape is unknown the estimate scales with its size on disk.
MemoryEstimate EstimateMemory(const ModelInfo& model,
                              const quantd::v1::JobSpec& spec);

}  // namespace quantd::scheduler
