// RunPipeline: one quantization job, block by block (docs/DESIGN.md §3):
// embed the calibration windows, then for every block run the method on the
// quantized stream, feed the quantized block that stream to get the next
// block's input (and the FP block the FP stream, for methods that use it),
// report progress with the block's layer figures and write its checkpoint
// file (checkpoint.h) while the next block runs: finished blocks live on
// disk, not in memory. A checkpoint of the same spec and model found in the
// work dir is resumed after its last block; the result is byte-identical to an
// uninterrupted run when the thread count is the same. Then FP and
// quantized perplexity (decoders) or embedding cosine (encoders) with the
// quantized blocks read from their files, the artifacts through
// exporting::Exporter (docs/formats/packed-weights.md) one block at a
// time, the result event, and the checkpoint removed.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "worker/engine/export/manifest.h"
#include "worker/engine/pipeline/checkpoint.h"
#include "worker/engine/pipeline/events.h"
#include "worker/engine/pipeline/job_inputs.h"
#include "worker/engine/pipeline/job_spec.h"

namespace quantd::engine::pipeline {

struct PipelineOptions {
  std::filesystem::path out_dir;
  at::Device device = at::kCPU;
  // Test hook: return right after block k's checkpoint, as if the process
  // had been killed there. -1: never.
  int64_t stop_after_block = -1;
  // Evaluation windows that pass the blocks together.
  int64_t eval_windows_per_chunk = 4;
  // False: skip the FP baseline (fp_value is NaN), for callers that already
  // know it (benchmarks comparing methods on one model).
  bool evaluate_fp = true;
  // False: write no artifacts at all (benchmarks and ordering tests).
  bool export_artifacts = true;
  // Progress events report base + span × the run's own fraction (one
  // attempt of a job with a target covers its share of the job).
  double progress_base = 0.0;
  double progress_span = 1.0;
  // Keep DIR/checkpoint after success (it is removed by default).
  bool keep_checkpoint = false;
  // Write each finished block's checkpoint while the next block is
  // computed (holds one more block's results in memory meanwhile).
  bool overlap_writes = true;
  // Largest output safetensors shard; the export holds one in memory.
  uint64_t max_shard_bytes = uint64_t{1} << 30;
  // For the manifest: the spec file the job was read from (may be empty)
  // and the engine's version string.
  std::filesystem::path spec_path;
  std::string engine_version;
};

struct PipelineResult {
  bool stopped = false;  // stop_after_block was reached.
  ResultEvent result;
  std::vector<BlockSummary> blocks;
  std::vector<exporting::Artifact> artifacts;
};

// A job with a target none of whose attempts met it; the result event,
// with every attempt, was sent first.
class TargetNotMet : public std::runtime_error {
 public:
  explicit TargetNotMet(const std::vector<AttemptEvent>& attempts);
};

// A job with a target runs its attempts (AttemptSpecs) in turn: FP is
// evaluated once, the first attempt within the bound is exported and ends
// the job; the result lists every attempt. Throws TargetNotMet when none
// met it.
// Throws CheckpointMismatch, SpecError, methods::MethodError,
// exporting::ExportError, and whatever
// the model, quantizers and I/O throw; the CLI maps them to exit codes.
PipelineResult RunPipeline(const JobSpec& spec, JobInputs& inputs,
                           const PipelineOptions& options, EventSink& events);

}  // namespace quantd::engine::pipeline
