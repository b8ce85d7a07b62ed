// ShardedSafetensorsWriter: a streaming writer for a model-sized set of
// tensors that arrives one group (block) at a time, each byte written once,
// straight into the output directory. Groups gather into the current shard
// until the next one would take it past max_shard_bytes; the shard is then
// written (to a hidden provisional name, complete and synced) and its
// tensors released, so at most one shard (plus the arriving group) is ever
// held in memory. Finish names the shards: one file "<stem>.safetensors",
// or "<stem>-00001-of-0000N.safetensors" plus the Hugging Face index
// "<stem>.safetensors.index.json" ({"metadata": {"total_size": bytes},
// "weight_map": {tensor: shard}}); renaming moves no data. Shards fill in
// arrival order (inside a file, tensors lie in name order); a group larger
// than the limit gets a shard of its own. The same groups in the same order
// always give the same bytes. Provisional shards of a writer destroyed
// before Finish, or of a killed run, are removed.
//
// Ownership: keeps the handles of the current shard's tensors until that
// shard is written. Not thread-safe.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
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
  // Files go to `out_dir` (created) under `stem`, `metadata` in every
  // shard. Throws ExportError for a zero limit or an unusable directory.
  ShardedSafetensorsWriter(std::filesystem::path out_dir, std::string stem,
                           uint64_t max_shard_bytes,
                           std::map<std::string, std::string> metadata);
  ~ShardedSafetensorsWriter();
  ShardedSafetensorsWriter(const ShardedSafetensorsWriter&) = delete;
  ShardedSafetensorsWriter& operator=(const ShardedSafetensorsWriter&) = delete;

  // Adds one group (any device; kept as contiguous CPU tensors until its
  // shard is written). Names must be unique across all groups. Throws
  // ExportError.
  void AddGroup(const std::vector<std::pair<std::string, at::Tensor>>& tensors);

  bool Contains(const std::string& name) const {
    return names_.count(name) != 0;
  }
  uint64_t total_bytes() const { return total_bytes_; }

  // Writes the last shard, names every shard and writes the index when
  // there are several. Throws ExportError; call once.
  std::vector<ShardFile> Finish();

 private:
  // Writes the current shard under its provisional name.
  void FlushShard();
  std::filesystem::path ProvisionalPath(size_t index) const;
  void RemoveProvisional() const;

  std::filesystem::path out_dir_;
  std::string stem_;
  uint64_t max_shard_bytes_;
  std::map<std::string, std::string> metadata_;
  std::vector<std::pair<std::string, at::Tensor>> current_;
  uint64_t current_bytes_ = 0;
  // Per written shard: its file and the names it holds.
  std::vector<std::pair<WrittenFile, std::vector<std::string>>> shards_;
  std::set<std::string> names_;
  uint64_t total_bytes_ = 0;
  bool finished_ = false;
};

// "model-00002-of-00005.safetensors" for stem "model", shard 2 of 5.
std::string ShardName(const std::string& stem, size_t index, size_t count);

}  // namespace quantd::engine::exporting
