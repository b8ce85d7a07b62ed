#include "worker/engine/export/sharded_writer.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "worker/engine/export/export_error.h"

namespace quantd::engine::exporting {
namespace {

constexpr char kProvisionalSuffix[] = ".shard.tmp";

}  // namespace

std::string ShardName(const std::string& stem, size_t index, size_t count) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "-%05zu-of-%05zu.safetensors", index,
                count);
  return stem + buffer;
}

ShardedSafetensorsWriter::ShardedSafetensorsWriter(
    std::filesystem::path out_dir, std::string stem, uint64_t max_shard_bytes,
    std::map<std::string, std::string> metadata)
    : out_dir_(std::move(out_dir)),
      stem_(std::move(stem)),
      max_shard_bytes_(max_shard_bytes),
      metadata_(std::move(metadata)) {
  if (max_shard_bytes_ == 0) {
    throw ExportError(out_dir_.string() + ": max_shard_bytes must be positive");
  }
  std::error_code error;
  std::filesystem::create_directories(out_dir_, error);
  if (error) {
    throw ExportError(out_dir_.string() +
                      ": cannot create output directory: " + error.message());
  }
  RemoveProvisional();
}

ShardedSafetensorsWriter::~ShardedSafetensorsWriter() {
  if (!finished_) RemoveProvisional();
}

std::filesystem::path ShardedSafetensorsWriter::ProvisionalPath(
    size_t index) const {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "-%05zu", index + 1);
  return out_dir_ / ("." + stem_ + buffer + kProvisionalSuffix);
}

void ShardedSafetensorsWriter::RemoveProvisional() const {
  const std::string prefix = "." + stem_ + "-";
  std::error_code error;
  for (const auto& entry :
       std::filesystem::directory_iterator(out_dir_, error)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(prefix) && name.ends_with(kProvisionalSuffix)) {
      std::filesystem::remove(entry.path(), error);
    }
  }
}

void ShardedSafetensorsWriter::AddGroup(
    const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  if (finished_) throw ExportError("AddGroup after Finish");
  if (tensors.empty()) return;
  uint64_t bytes = 0;
  std::set<std::string> group;
  for (const auto& [name, tensor] : tensors) {
    if (names_.count(name) != 0 || !group.insert(name).second) {
      throw ExportError(out_dir_.string() + ": tensor '" + name +
                        "' was already added");
    }
    bytes += LayoutOf(name, tensor).size_bytes;
  }
  if (!current_.empty() && current_bytes_ + bytes > max_shard_bytes_) {
    FlushShard();
  }
  for (const auto& [name, tensor] : tensors) {
    current_.emplace_back(name, tensor.detach().to(at::kCPU).contiguous());
    names_.insert(name);
  }
  current_bytes_ += bytes;
  total_bytes_ += bytes;
}

void ShardedSafetensorsWriter::FlushShard() {
  if (current_.empty()) return;
  std::vector<std::string> names;
  for (const auto& [name, tensor] : current_) names.push_back(name);
  WrittenFile file =
      WriteSafetensors(ProvisionalPath(shards_.size()), current_, metadata_);
  shards_.emplace_back(std::move(file), std::move(names));
  current_.clear();
  current_bytes_ = 0;
}

std::vector<ShardFile> ShardedSafetensorsWriter::Finish() {
  if (finished_) throw ExportError("Finish called twice");
  // An empty writer still gives one (empty) file.
  if (shards_.empty() && current_.empty()) {
    shards_.emplace_back(WriteSafetensors(ProvisionalPath(0), {}, metadata_),
                         std::vector<std::string>());
  }
  FlushShard();
  finished_ = true;
  std::vector<ShardFile> written;
  nlohmann::json weight_map = nlohmann::json::object();
  for (size_t i = 0; i < shards_.size(); ++i) {
    const std::string name = shards_.size() == 1
                                 ? stem_ + ".safetensors"
                                 : ShardName(stem_, i + 1, shards_.size());
    WrittenFile file = shards_[i].first;
    const std::filesystem::path target = out_dir_ / name;
    std::error_code error;
    std::filesystem::rename(file.path, target, error);
    if (error) {
      throw ExportError(target.string() +
                        ": cannot rename shard into place: " + error.message());
    }
    file.path = target;
    for (const std::string& tensor : shards_[i].second) {
      weight_map[tensor] = name;
    }
    written.push_back({name, std::move(file)});
  }
  if (shards_.size() > 1) {
    nlohmann::json index = {{"metadata", {{"total_size", total_bytes_}}},
                            {"weight_map", weight_map}};
    const std::string name = stem_ + ".safetensors.index.json";
    written.push_back(
        {name, WriteFileAtomically(out_dir_ / name, index.dump(2) + "\n")});
  }
  return written;
}

}  // namespace quantd::engine::exporting
