#include "server/scheduler/memory_estimate.h"

#include <algorithm>

namespace quantd::scheduler {
namespace {

constexpr uint64_t kFloatBytes = 4;
constexpr uint64_t kMiB = 1u << 20;
// Allocator slack, CUDA context and the engine's own buffers.
constexpr uint64_t kOverheadBytes = 256 * kMiB;
// Calibration streams held at once: FP inputs, quantized inputs, outputs.
constexpr uint64_t kActivationStreams = 3;
// The engine's default largest output shard (quantd-engine run
// --max-shard-mib), which its export holds in memory.
constexpr uint64_t kOutputShardBytes = 1024 * kMiB;
// Blocks' worth of fp32 weights on the host at the peak: the block being
// quantized as loaded, its transformed FP and fake-quantized copies, and
// the previous block's results while its checkpoint file is written.
constexpr uint64_t kHostBlocks = 4;

uint64_t RoundUpToMiB(uint64_t bytes) {
  return (bytes + kMiB - 1) / kMiB * kMiB;
}

}  // namespace

MemoryEstimate EstimateMemory(const ModelInfo& model,
                              const quantd::v1::JobSpec& spec) {
  MemoryEstimate estimate;
  const uint64_t h = model.hidden_size;
  if (h == 0) {
    // Shape unknown: weights expanded to fp32 twice over, plus slack.
    estimate.device_memory_bytes = 2 * model.size_bytes + kOverheadBytes;
    estimate.host_memory_bytes = 3 * model.size_bytes + kOverheadBytes;
  } else {
    const uint64_t i =
        model.intermediate_size ? model.intermediate_size : 4 * h;
    // Attention (q, k, v, o) plus a gated MLP: an upper bound per block.
    const uint64_t block_bytes = (4 * h * h + 3 * h * i) * kFloatBytes;
    const uint64_t embedding_bytes = model.vocab_size * h * kFloatBytes;
    const uint64_t tokens =
        static_cast<uint64_t>(spec.calibration().n_samples()) *
        spec.calibration().seq_len();
    const uint64_t stream_bytes = tokens * h * kFloatBytes;
    // One sample's intermediate activations while a block runs.
    const uint64_t working_bytes =
        8 * static_cast<uint64_t>(spec.calibration().seq_len()) *
        std::max(h, i) * kFloatBytes;
    estimate.device_memory_bytes = embedding_bytes + 2 * block_bytes +
                                   kActivationStreams * stream_bytes +
                                   working_bytes + kOverheadBytes;
    // Independent of the depth: finished blocks live in their checkpoint
    // files and the export streams from them (docs/OPERATIONS.md, Sizing).
    estimate.host_memory_bytes =
        2 * embedding_bytes + kHostBlocks * block_bytes + kOutputShardBytes +
        kActivationStreams * stream_bytes + kOverheadBytes;
  }
  estimate.device_memory_bytes = RoundUpToMiB(estimate.device_memory_bytes);
  estimate.host_memory_bytes = RoundUpToMiB(estimate.host_memory_bytes);
  return estimate;
}

}  // namespace quantd::scheduler
