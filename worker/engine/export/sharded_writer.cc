#include "worker/engine/export/sharded_writer.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "worker/engine/export/export_error.h"
#include "worker/engine/io/mapped_file.h"

namespace quantd::engine::exporting {

std::string ShardName(const std::string& stem, size_t index, size_t count) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "-%05zu-of-%05zu.safetensors", index,
                count);
  return stem + buffer;
}

ShardedSafetensorsWriter::ShardedSafetensorsWriter(
    std::filesystem::path staging_dir)
    : staging_dir_(std::move(staging_dir)) {
  RemoveFlatDirectory(staging_dir_);
  std::error_code error;
  std::filesystem::create_directories(staging_dir_, error);
  if (error) {
    throw ExportError(staging_dir_.string() +
                      ": cannot create staging directory: " + error.message());
  }
}

ShardedSafetensorsWriter::~ShardedSafetensorsWriter() {
  try {
    RemoveFlatDirectory(staging_dir_);
  } catch (const ExportError&) {
    // A leftover staging directory is harmless: the next run clears it.
  }
}

void ShardedSafetensorsWriter::AddGroup(
    const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  if (finished_) throw ExportError("AddGroup after Finish");
  if (tensors.empty()) return;
  for (const auto& [name, tensor] : tensors) {
    if (tensors_.count(name) != 0) {
      throw ExportError(staging_dir_.string() + ": tensor '" + name +
                        "' was already added");
    }
  }
  const std::filesystem::path path =
      staging_dir_ /
      ("group-" + std::to_string(files_.size()) + ".safetensors");
  WriteSafetensors(path, tensors);
  // Re-derive the offsets the writer used: name order after the header.
  std::vector<TensorLayout> layouts;
  for (const auto& [name, tensor] : tensors) {
    layouts.push_back(LayoutOf(name, tensor));
  }
  std::sort(layouts.begin(), layouts.end(),
            [](const TensorLayout& a, const TensorLayout& b) {
              return a.name < b.name;
            });
  uint64_t offset = SafetensorsHeader(layouts, {}, path).size();
  for (TensorLayout& layout : layouts) {
    const uint64_t size = layout.size_bytes;
    total_bytes_ += size;
    std::string name = layout.name;
    tensors_.emplace(std::move(name),
                     Staged{std::move(layout), files_.size(), offset});
    offset += size;
  }
  files_.push_back(path);
}

std::vector<std::vector<const ShardedSafetensorsWriter::Staged*>>
ShardedSafetensorsWriter::PlanShards(uint64_t max_shard_bytes) const {
  std::vector<std::vector<const Staged*>> shards(1);
  uint64_t used = 0;
  for (const auto& [name, staged] : tensors_) {
    const uint64_t size = staged.layout.size_bytes;
    if (!shards.back().empty() && used + size > max_shard_bytes) {
      shards.emplace_back();
      used = 0;
    }
    shards.back().push_back(&staged);
    used += size;
  }
  return shards;
}

std::vector<ShardFile> ShardedSafetensorsWriter::Finish(
    const std::filesystem::path& out_dir, const std::string& stem,
    uint64_t max_shard_bytes,
    const std::map<std::string, std::string>& metadata) {
  if (finished_) throw ExportError("Finish called twice");
  finished_ = true;
  std::vector<io::MappedFile> mapped;
  for (const std::filesystem::path& file : files_) mapped.emplace_back(file);
  const auto shards = PlanShards(max_shard_bytes);
  std::vector<ShardFile> written;
  nlohmann::json weight_map = nlohmann::json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string name = shards.size() == 1
                                 ? stem + ".safetensors"
                                 : ShardName(stem, i + 1, shards.size());
    std::vector<TensorLayout> layouts;
    for (const Staged* staged : shards[i]) {
      layouts.push_back(staged->layout);
      weight_map[staged->layout.name] = name;
    }
    SafetensorsWriter writer(out_dir / name, std::move(layouts), metadata);
    for (const Staged* staged : shards[i]) {
      writer.WriteTensor(staged->layout.name,
                         mapped[staged->file].data().subspan(
                             staged->offset, staged->layout.size_bytes));
    }
    written.push_back({name, writer.Commit()});
  }
  if (shards.size() > 1) {
    nlohmann::json index = {{"metadata", {{"total_size", total_bytes_}}},
                            {"weight_map", weight_map}};
    const std::string name = stem + ".safetensors.index.json";
    written.push_back(
        {name, WriteFileAtomically(out_dir / name, index.dump(2) + "\n")});
  }
  mapped.clear();
  RemoveFlatDirectory(staging_dir_);
  return written;
}

}  // namespace quantd::engine::exporting
