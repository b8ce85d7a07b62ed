#include "worker/engine/pipeline/checkpoint.h"

#include <c10/util/StringUtil.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "worker/engine/export/export_error.h"
#include "worker/engine/export/safetensors_writer.h"
#include "worker/engine/io/safetensors_reader.h"
#include "worker/engine/pipeline/figure_json.h"

namespace quantd::engine::pipeline {
namespace {

constexpr char kBlockFormat[] = "quantd-block/1";
constexpr char kStreamsFormat[] = "quantd-checkpoint/2";
constexpr char kStreamsFile[] = "streams.safetensors";
constexpr char kStreamQuantized[] = "stream.quantized";
constexpr char kStreamFp[] = "stream.fp";
constexpr char kRangePrefix[] = "range.";

using Metadata = std::map<std::string, std::string>;

Metadata IdentityMetadata(const char* format,
                          const CheckpointIdentity& identity) {
  return {{"format", format},
          {"spec_sha256", identity.spec_sha256},
          {"model_sha256", identity.model_sha256},
          {"block_count", std::to_string(identity.block_count)}};
}

void CheckIdentity(const std::filesystem::path& path, const Metadata& metadata,
                   const char* format, const CheckpointIdentity& identity) {
  auto value = [&](const char* key) {
    auto found = metadata.find(key);
    return found == metadata.end() ? std::string() : found->second;
  };
  if (value("format") != format) {
    throw CheckpointMismatch(path.string() + ": not a " + format + " file");
  }
  if (value("spec_sha256") != identity.spec_sha256) {
    throw CheckpointMismatch(c10::str(
        path.string(), ": written for another job spec (spec sha256 ",
        value("spec_sha256"), ", this job ", identity.spec_sha256, ")"));
  }
  if (value("model_sha256") != identity.model_sha256) {
    throw CheckpointMismatch(c10::str(
        path.string(), ": written for another model (model sha256 ",
        value("model_sha256"), ", this job ", identity.model_sha256, ")"));
  }
  if (value("block_count") != std::to_string(identity.block_count)) {
    throw CheckpointMismatch(path.string() + ": block count differs");
  }
}

nlohmann::json ParseMetadataJson(const std::filesystem::path& path,
                                 const Metadata& metadata, const char* key) {
  auto found = metadata.find(key);
  nlohmann::json json =
      found == metadata.end()
          ? nlohmann::json()
          : nlohmann::json::parse(found->second, nullptr, false);
  if (json.is_discarded() || json.is_null()) {
    throw std::runtime_error(path.string() + ": malformed or missing \"" + key +
                             "\" metadata");
  }
  return json;
}

void AddRangeTensors(const FinishedBlock& block,
                     std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  for (const exporting::ChannelRange& range : block.ranges) {
    const std::string base = kRangePrefix + range.name;
    tensors.emplace_back(base + ".before_min", range.before_min);
    tensors.emplace_back(base + ".before_max", range.before_max);
    if (range.after_min.defined()) {
      tensors.emplace_back(base + ".after_min", range.after_min);
      tensors.emplace_back(base + ".after_max", range.after_max);
    }
  }
}

nlohmann::json BlockJson(const FinishedBlock& block) {
  nlohmann::json names = nlohmann::json::array();
  for (const auto& [name, tensor] : block.tensors) names.push_back(name);
  nlohmann::json ranges = nlohmann::json::array();
  for (const exporting::ChannelRange& range : block.ranges) {
    ranges.push_back(
        {{"name", range.name}, {"after", range.after_min.defined()}});
  }
  return {{"index", block.index},
          {"prefix", block.prefix},
          {"tensors", names},
          {"ranges", ranges},
          {"state", methods::StateToJson(block.state)},
          {"figures", FiguresToJson(block.figures)},
          {"seconds", block.seconds}};
}

// The state description without its weights' part (only the export
// reads that).
nlohmann::json ActivationsOnly(nlohmann::json state) {
  if (state.is_object()) state["weights"] = nlohmann::json::array();
  return state;
}

std::vector<methods::LayerFigure> FiguresOf(const nlohmann::json& json) {
  std::vector<methods::LayerFigure> figures;
  for (const nlohmann::json& figure : json.at("figures")) {
    figures.push_back(FigureFromJson(figure));
  }
  return figures;
}

}  // namespace

std::string BlockFileName(int64_t index) {
  char buffer[48];
  std::snprintf(buffer, sizeof(buffer), "block-%05lld.safetensors",
                static_cast<long long>(index));
  return buffer;
}

CheckpointStore::CheckpointStore(const std::filesystem::path& out_dir,
                                 CheckpointIdentity identity)
    : dir_(out_dir / "checkpoint"), identity_(std::move(identity)) {}

std::filesystem::path CheckpointStore::PathOf(const BlockFile& file) const {
  return dir_.parent_path() / file.name;
}

BlockSummary CheckpointStore::WriteBlock(const FinishedBlock& block) const {
  std::vector<std::pair<std::string, at::Tensor>> tensors = block.tensors;
  auto state = methods::StateTensors(block.state, block.prefix);
  tensors.insert(tensors.end(), state.begin(), state.end());
  AddRangeTensors(block, tensors);
  Metadata metadata = IdentityMetadata(kBlockFormat, identity_);
  metadata["index"] = std::to_string(block.index);
  metadata["block"] = BlockJson(block).dump();
  BlockSummary summary;
  summary.file.index = block.index;
  summary.file.name = "checkpoint/" + BlockFileName(block.index);
  const exporting::WrittenFile written =
      exporting::WriteSafetensors(PathOf(summary.file), tensors, metadata);
  summary.file.sha256 = written.sha256;
  summary.file.size_bytes = written.size_bytes;
  summary.prefix = block.prefix;
  summary.figures = block.figures;
  summary.seconds = block.seconds;
  return summary;
}

exporting::WrittenFile CheckpointStore::WriteStreams(
    const std::vector<BlockSummary>& blocks, const at::Tensor& stream_quantized,
    const at::Tensor& stream_fp) const {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  tensors.emplace_back(kStreamQuantized, stream_quantized);
  if (stream_fp.defined()) tensors.emplace_back(kStreamFp, stream_fp);
  nlohmann::json listed = nlohmann::json::array();
  for (const BlockSummary& block : blocks) {
    listed.push_back({{"index", block.file.index},
                      {"name", block.file.name},
                      {"sha256", block.file.sha256},
                      {"size_bytes", block.file.size_bytes}});
  }
  Metadata metadata = IdentityMetadata(kStreamsFormat, identity_);
  metadata["last_block"] = std::to_string(blocks.size() - 1);
  metadata["blocks"] = listed.dump();
  return exporting::WriteSafetensors(dir_ / kStreamsFile, tensors, metadata);
}

std::optional<Checkpoint> CheckpointStore::Read(
    const at::Device& device) const {
  const std::filesystem::path path = dir_ / kStreamsFile;
  if (!std::filesystem::exists(path)) return std::nullopt;
  std::unique_ptr<io::SafetensorsReader> reader =
      io::SafetensorsReader::OpenFile(path);
  const Metadata& metadata = reader->metadata();
  CheckIdentity(path, metadata, kStreamsFormat, identity_);
  const nlohmann::json listed = ParseMetadataJson(path, metadata, "blocks");
  if (!listed.is_array() || listed.empty()) {
    throw std::runtime_error(path.string() + ": malformed block list");
  }
  Checkpoint checkpoint;
  try {
    for (const nlohmann::json& entry : listed) {
      BlockSummary block;
      block.file.index = entry.at("index").get<int64_t>();
      block.file.name = entry.at("name").get<std::string>();
      block.file.sha256 = entry.at("sha256").get<std::string>();
      block.file.size_bytes = entry.at("size_bytes").get<uint64_t>();
      if (block.file.index != static_cast<int64_t>(checkpoint.blocks.size()) ||
          block.file.name != "checkpoint/" + BlockFileName(block.file.index)) {
        throw std::runtime_error(path.string() + ": blocks out of order");
      }
      // Only the header: the block's tensors stay on disk until export.
      const std::filesystem::path file = PathOf(block.file);
      std::error_code error;
      const uintmax_t size = std::filesystem::file_size(file, error);
      if (error || size != block.file.size_bytes) {
        throw std::runtime_error(
            c10::str(file.string(), ": missing or of another size than the ",
                     block.file.size_bytes, " bytes the checkpoint records"));
      }
      std::unique_ptr<io::SafetensorsReader> header =
          io::SafetensorsReader::OpenFile(file);
      CheckIdentity(file, header->metadata(), kBlockFormat, identity_);
      const nlohmann::json json =
          ParseMetadataJson(file, header->metadata(), "block");
      block.prefix = json.at("prefix").get<std::string>();
      block.figures = FiguresOf(json);
      block.seconds = json.value("seconds", 0.0);
      checkpoint.blocks.push_back(std::move(block));
    }
  } catch (const nlohmann::json::exception& error) {
    throw std::runtime_error(path.string() +
                             ": malformed block entry: " + error.what());
  }
  checkpoint.stream_quantized = reader->LoadFloat(kStreamQuantized).to(device);
  if (reader->Contains(kStreamFp)) {
    checkpoint.stream_fp = reader->LoadFloat(kStreamFp).to(device);
  }
  return checkpoint;
}

FinishedBlock CheckpointStore::ReadBlock(const BlockFile& file,
                                         BlockContents contents,
                                         const at::Device& device) const {
  const std::filesystem::path path = PathOf(file);
  std::unique_ptr<io::SafetensorsReader> reader =
      io::SafetensorsReader::OpenFile(path);
  CheckIdentity(path, reader->metadata(), kBlockFormat, identity_);
  const nlohmann::json json =
      ParseMetadataJson(path, reader->metadata(), "block");
  auto load = [&](const std::string& name) {
    return reader->LoadFloat(name).to(device);
  };
  FinishedBlock block;
  try {
    block.index = json.at("index").get<int64_t>();
    block.prefix = json.at("prefix").get<std::string>();
    const bool everything = contents == BlockContents::kEverything;
    block.state = methods::StateFromJson(
        everything ? json.at("state") : ActivationsOnly(json.at("state")),
        block.prefix, load);
    block.figures = FiguresOf(json);
    block.seconds = json.value("seconds", 0.0);
    if (everything) {
      for (const nlohmann::json& name : json.at("tensors")) {
        block.tensors.emplace_back(name.get<std::string>(),
                                   load(name.get<std::string>()));
      }
      for (const nlohmann::json& entry : json.at("ranges")) {
        exporting::ChannelRange range;
        range.name = entry.at("name").get<std::string>();
        const std::string base = kRangePrefix + range.name;
        // Ranges stay on the CPU: only the exporter reads them.
        range.before_min = reader->LoadFloat(base + ".before_min");
        range.before_max = reader->LoadFloat(base + ".before_max");
        if (entry.at("after").get<bool>()) {
          range.after_min = reader->LoadFloat(base + ".after_min");
          range.after_max = reader->LoadFloat(base + ".after_max");
        }
        block.ranges.push_back(std::move(range));
      }
    }
  } catch (const nlohmann::json::exception& error) {
    throw std::runtime_error(path.string() +
                             ": malformed block description: " + error.what());
  }
  if (block.index != file.index) {
    throw std::runtime_error(path.string() + ": holds another block");
  }
  return block;
}

void CheckpointStore::Remove() const {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

}  // namespace quantd::engine::pipeline
