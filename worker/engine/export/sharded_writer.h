// ShardedSafetensorsWriter: a streaming writer for a model-sized set of
// tensors that arrives one group (block) at a time. Each group is written
// at once to a staging file (so only one block is ever resident); Finish
// lays every tensor out in name order and writes either one file
// "<stem>.safetensors" or, when the tensor data exceeds max_shard_bytes,
// shards "<stem>-00001-of-0000N.safetensors" plus the Hugging Face index
// "<stem>.safetensors.index.json" ({"metadata": {"total_size": bytes},
// "weight_map": {tensor: shard}}). Shards fill greedily in name order; a
// tensor larger than the limit gets a shard of its own. Every output file
// is renamed into place complete; the staging directory is removed by
// Finish or by the destructor.
//
// Ownership: owns its staging directory. Not thread-safe.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "worker/engine/export/atomic_file.h"
#include "worker/engine/export/safetensors_writer.h"

namespace quantd::engine::exporting {

// One written output file and its name relative to the output directory.
struct ShardFile {
  std::string name;  // "model.safetensors", "model.safetensors.index.json"
  WrittenFile file;
};

class ShardedSafetensorsWriter {
 public:
  // `staging_dir` is created empty (stale files of a crashed run are
  // removed). Throws ExportError.
  explicit ShardedSafetensorsWriter(std::filesystem::path staging_dir);
  ~ShardedSafetensorsWriter();
  ShardedSafetensorsWriter(const ShardedSafetensorsWriter&) = delete;
  ShardedSafetensorsWriter& operator=(const ShardedSafetensorsWriter&) = delete;

  // Writes one group to a staging file. Names must be unique across all
  // groups. Throws ExportError.
  void AddGroup(const std::vector<std::pair<std::string, at::Tensor>>& tensors);

  bool Contains(const std::string& name) const {
    return tensors_.count(name) != 0;
  }
  uint64_t total_bytes() const { return total_bytes_; }

  // Writes the final file(s) into `out_dir` with `metadata` in every shard,
  // then removes the staging directory. Throws ExportError; call once.
  std::vector<ShardFile> Finish(
      const std::filesystem::path& out_dir, const std::string& stem,
      uint64_t max_shard_bytes,
      const std::map<std::string, std::string>& metadata);

 private:
  struct Staged {
    TensorLayout layout;
    size_t file = 0;      // Index into files_.
    uint64_t offset = 0;  // Absolute byte offset in that file.
  };

  // Groups of names (in order) forming each shard.
  std::vector<std::vector<const Staged*>> PlanShards(
      uint64_t max_shard_bytes) const;

  std::filesystem::path staging_dir_;
  std::vector<std::filesystem::path> files_;
  std::map<std::string, Staged> tensors_;  // By name: the output order.
  uint64_t total_bytes_ = 0;
  bool finished_ = false;
};

// "model-00002-of-00005.safetensors" for stem "model", shard 2 of 5.
std::string ShardName(const std::string& stem, size_t index, size_t count);

}  // namespace quantd::engine::exporting
