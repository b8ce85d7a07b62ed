// The cumulative block checkpoint of a job (docs/formats/engine-protocol.md,
// "Resume"): one safetensors file at DIR/checkpoint/checkpoint.safetensors
// holding the calibration streams at the next block's input
// ("stream.quantized", "stream.fp"), every finished block's transformed and
// fake-quantized tensors under their HF names, their quantizer state
// ("quant.<prefix>..."), and metadata: the spec and model SHA-256, the
// block count and, per finished block, its state description, figures and
// the activation ranges of its sites ("range.<site>.<before|after>_<min|max>").
// Written to a temporary name, synced and renamed.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "worker/engine/export/activation_ranges.h"
#include "worker/engine/export/atomic_file.h"
#include "worker/engine/methods/block_state.h"
#include "worker/engine/methods/method.h"

namespace quantd::engine::pipeline {

// A checkpoint written for another spec or model, or for a model with
// another block count: resuming from it would be wrong (exit status 2).
class CheckpointMismatch : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CheckpointIdentity {
  std::string spec_sha256;
  std::string model_sha256;
  int64_t block_count = 0;
};

struct FinishedBlock {
  int64_t index = 0;
  std::string prefix;  // "model.layers.3."
  // The block's tensors after quantization, under their full HF names.
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  methods::BlockQuantState state;
  std::vector<methods::LayerFigure> figures;
  // Per input site: per-channel ranges before the method and as the
  // quantizer sees them after it (for the report's plots).
  std::vector<exporting::ChannelRange> ranges;
  double seconds = 0.0;  // Wall time the block took.
};

struct Checkpoint {
  std::vector<FinishedBlock> blocks;  // Blocks 0..k in order.
  at::Tensor stream_quantized;        // [N, T, C], the next block's input.
  at::Tensor stream_fp;               // Same, FP chain; may be undefined.
};

std::filesystem::path CheckpointPath(const std::filesystem::path& out_dir);

// Writes atomically (a reader never sees a partial file). Throws
// exporting::ExportError.

exporting::WrittenFile WriteCheckpoint(const std::filesystem::path& path,
                                       const CheckpointIdentity& identity,
                                       const Checkpoint& checkpoint);

// nullopt when `path` does not exist. Tensors come back on `device`.
// Throws CheckpointMismatch for another identity and std::runtime_error /
// io::FormatError for a malformed file.
std::optional<Checkpoint> ReadCheckpoint(const std::filesystem::path& path,
                                         const CheckpointIdentity& identity,
                                         const at::Device& device);

}  // namespace quantd::engine::pipeline
