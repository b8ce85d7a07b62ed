// The incremental block checkpoint of a job (docs/formats/engine-protocol.md,
// "Resume"), under DIR/checkpoint/:
//   block-00007.safetensors  one per finished block, written once: the
//       block's tensors after quantization under their HF names, its
//       quantizer state ("quant.<prefix>..."), the activation ranges of its
//       sites ("range.<site>.<before|after>_<min|max>") and metadata: the
//       identity (format, spec and model SHA-256, block count), the index
//       and the block's description (tensor names, state, figures, ranges,
//       seconds) as JSON.
//   streams.safetensors  replaced after every block: the calibration
//       streams at the next block's input ("stream.quantized",
//       "stream.fp"), and metadata: the identity, the last finished block
//       and every block file with its SHA-256 and size. It is the commit
//       point: a block counts as finished once a streams file lists it.
// Every file is written to a temporary name, synced and renamed, so a kill
// at any moment leaves the previous checkpoint whole. Bytes written per
// block are one block's results plus the streams, whatever the depth.
//
// Nothing is stored twice: a quantized weight whose fake-quantized values
// are exactly FakeQuantize(its FP weight, its QParams) is recomputed from
// those when read ("derived" in the description), and an FP weight that is
// bit for bit the model's own (methods that transform no weight, e.g. RTN)
// is read from the model again ("fp_weight_from_model"). Both are checked
// when the block is written, so what comes back is always the same bits.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "worker/engine/export/activation_ranges.h"
#include "worker/engine/export/atomic_file.h"
#include "worker/engine/io/tensor_source.h"
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

// Everything a finished block produced, in memory only while it is written
// (or read back for the export).
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

// A block file as the streams file lists it.
struct BlockFile {
  int64_t index = 0;
  std::string name;  // "checkpoint/block-00007.safetensors", from DIR.
  std::string sha256;
  uint64_t size_bytes = 0;
};

// What stays in memory of a finished block: where it is and its figures.
struct BlockSummary {
  BlockFile file;
  std::string prefix;
  std::vector<methods::LayerFigure> figures;
  double seconds = 0.0;
};

struct Checkpoint {
  std::vector<BlockSummary> blocks;  // Blocks 0..k in order.
  at::Tensor stream_quantized;       // [N, T, C], the next block's input;
                                     // undefined for a data-free method.
  at::Tensor stream_fp;              // Same, FP chain; may be undefined.
};

// A finished block as its file will hold it: the tensors stored (sharing
// the block's) and the metadata. Made before the write so that everything
// else of the block can be released while the file is written.
struct BlockFileContents {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  std::map<std::string, std::string> metadata;
  BlockSummary summary;  // Without the file's sha256 and size yet.
};

// What ReadBlock loads besides the description.
enum class BlockContents {
  kActivations,  // The activation quantizers' state only (evaluation).
  kQuantized,    // Tensors, state without FP weights, ranges (export
                 // of the quantized model alone).
  kEverything,   // Tensors, full state and ranges (export with the HF
                 // model, which holds the FP weights).
};

class CheckpointStore {
 public:
  // `out_dir` is the job's work dir; `model` the job's FP model source
  // (not owned; must outlive the store).
  CheckpointStore(const std::filesystem::path& out_dir,
                  CheckpointIdentity identity, const io::TensorSource* model);

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path PathOf(const BlockFile& file) const;
  // "checkpoint/streams.safetensors", relative to the work dir.
  static const char* StreamsName();

  // What block `block.index`'s file will hold (omitting what can be
  // recomputed; cheap, on the computing thread).
  BlockFileContents PrepareBlock(const FinishedBlock& block) const;
  // Writes it (on any thread), filling contents.summary's sha256 and size.
  // Throws exporting::ExportError.
  exporting::WrittenFile WriteBlock(BlockFileContents& contents) const;
  // Writes the streams file that commits `blocks` (0..k, in order).
  // Throws exporting::ExportError.
  exporting::WrittenFile WriteStreams(const std::vector<BlockSummary>& blocks,
                                      const at::Tensor& stream_quantized,
                                      const at::Tensor& stream_fp) const;

  // nullopt when there is no streams file. Reads the streams and only the
  // headers of the block files it lists (each must be there with its
  // recorded size and identity). Tensors come back on `device`. Throws
  // CheckpointMismatch for another identity and std::runtime_error /
  // io::FormatError for a malformed or incomplete checkpoint.
  std::optional<Checkpoint> Read(const at::Device& device) const;

  // One finished block read back. Throws as Read.
  FinishedBlock ReadBlock(const BlockFile& file, BlockContents contents,
                          const at::Device& device) const;
  // The block's tensors after quantization under their HF names (derived
  // ones recomputed when loaded), read lazily: a layer of the quantized
  // model's source. Throws as Read.
  std::shared_ptr<const io::TensorSource> OpenBlock(
      const BlockFile& file) const;

  // Removes the whole checkpoint directory (after a successful job).
  void Remove() const;

 private:
  std::filesystem::path dir_;
  CheckpointIdentity identity_;
  const io::TensorSource* model_;
};

// "block-00007.safetensors"
std::string BlockFileName(int64_t index);

}  // namespace quantd::engine::pipeline
