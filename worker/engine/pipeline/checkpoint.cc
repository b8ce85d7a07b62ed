#include "worker/engine/pipeline/checkpoint.h"

#include <c10/util/StringUtil.h>

#include <nlohmann/json.hpp>

#include "worker/engine/export/safetensors_writer.h"
#include "worker/engine/io/safetensors_reader.h"
#include "worker/engine/pipeline/figure_json.h"

namespace quantd::engine::pipeline {
namespace {

constexpr char kFormat[] = "quantd-checkpoint/1";
constexpr char kStreamQuantized[] = "stream.quantized";
constexpr char kStreamFp[] = "stream.fp";

constexpr char kRangePrefix[] = "range.";

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

FinishedBlock BlockFromJson(const nlohmann::json& json,
                            const io::SafetensorsReader& reader,
                            const at::Device& device) {
  auto load = [&](const std::string& name) {
    return reader.LoadFloat(name).to(device);
  };
  FinishedBlock block;
  block.index = json.at("index").get<int64_t>();
  block.prefix = json.at("prefix").get<std::string>();
  for (const nlohmann::json& name : json.at("tensors")) {
    block.tensors.emplace_back(name.get<std::string>(),
                               load(name.get<std::string>()));
  }
  block.state = methods::StateFromJson(json.at("state"), block.prefix, load);
  for (const nlohmann::json& figure : json.at("figures")) {
    block.figures.push_back(FigureFromJson(figure));
  }
  for (const nlohmann::json& entry : json.at("ranges")) {
    exporting::ChannelRange range;
    range.name = entry.at("name").get<std::string>();
    const std::string base = kRangePrefix + range.name;
    // Ranges stay on the CPU: only the exporter reads them.
    range.before_min = reader.LoadFloat(base + ".before_min");
    range.before_max = reader.LoadFloat(base + ".before_max");
    if (entry.at("after").get<bool>()) {
      range.after_min = reader.LoadFloat(base + ".after_min");
      range.after_max = reader.LoadFloat(base + ".after_max");
    }
    block.ranges.push_back(std::move(range));
  }
  block.seconds = json.value("seconds", 0.0);
  return block;
}

void CheckIdentity(const std::filesystem::path& path,
                   const std::map<std::string, std::string>& metadata,
                   const CheckpointIdentity& identity) {
  auto value = [&](const char* key) {
    auto found = metadata.find(key);
    return found == metadata.end() ? std::string() : found->second;
  };
  if (value("format") != kFormat) {
    throw CheckpointMismatch(path.string() + ": not a " + kFormat +
                             " checkpoint");
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

}  // namespace

std::filesystem::path CheckpointPath(const std::filesystem::path& out_dir) {
  return out_dir / "checkpoint" / "checkpoint.safetensors";
}

exporting::WrittenFile WriteCheckpoint(const std::filesystem::path& path,
                                       const CheckpointIdentity& identity,
                                       const Checkpoint& checkpoint) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  tensors.emplace_back(kStreamQuantized, checkpoint.stream_quantized);
  if (checkpoint.stream_fp.defined()) {
    tensors.emplace_back(kStreamFp, checkpoint.stream_fp);
  }
  nlohmann::json blocks = nlohmann::json::array();
  for (const FinishedBlock& block : checkpoint.blocks) {
    tensors.insert(tensors.end(), block.tensors.begin(), block.tensors.end());
    auto state = methods::StateTensors(block.state, block.prefix);
    tensors.insert(tensors.end(), state.begin(), state.end());
    AddRangeTensors(block, tensors);
    blocks.push_back(BlockJson(block));
  }
  std::map<std::string, std::string> metadata = {
      {"format", kFormat},
      {"spec_sha256", identity.spec_sha256},
      {"model_sha256", identity.model_sha256},
      {"block_count", std::to_string(identity.block_count)},
      {"last_block", std::to_string(checkpoint.blocks.size() - 1)},
      {"blocks", blocks.dump()}};
  return exporting::WriteSafetensors(path, tensors, metadata);
}

std::optional<Checkpoint> ReadCheckpoint(const std::filesystem::path& path,
                                         const CheckpointIdentity& identity,
                                         const at::Device& device) {
  if (!std::filesystem::exists(path)) return std::nullopt;
  std::unique_ptr<io::SafetensorsReader> reader =
      io::SafetensorsReader::OpenFile(path);
  const std::map<std::string, std::string>& metadata = reader->metadata();
  CheckIdentity(path, metadata, identity);
  auto listed = metadata.find("blocks");
  nlohmann::json blocks =
      listed == metadata.end()
          ? nlohmann::json()
          : nlohmann::json::parse(listed->second, nullptr, false);
  if (!blocks.is_array() || blocks.empty()) {
    throw std::runtime_error(path.string() + ": malformed block list");
  }
  Checkpoint checkpoint;
  try {
    for (const nlohmann::json& block : blocks) {
      checkpoint.blocks.push_back(BlockFromJson(block, *reader, device));
    }
  } catch (const nlohmann::json::exception& error) {
    throw std::runtime_error(path.string() +
                             ": malformed block entry: " + error.what());
  }
  for (size_t i = 0; i < checkpoint.blocks.size(); ++i) {
    if (checkpoint.blocks[i].index != static_cast<int64_t>(i)) {
      throw std::runtime_error(path.string() + ": blocks out of order");
    }
  }
  checkpoint.stream_quantized = reader->LoadFloat(kStreamQuantized).to(device);
  if (reader->Contains(kStreamFp)) {
    checkpoint.stream_fp = reader->LoadFloat(kStreamFp).to(device);
  }
  return checkpoint;
}

}  // namespace quantd::engine::pipeline
