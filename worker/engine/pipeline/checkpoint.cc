#include "worker/engine/pipeline/checkpoint.h"

#include <c10/util/StringUtil.h>

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "worker/engine/export/export_error.h"
#include "worker/engine/export/safetensors_writer.h"
#include "worker/engine/io/safetensors_reader.h"
#include "worker/engine/pipeline/figure_json.h"
#include "worker/engine/quant/fake_quant.h"

namespace quantd::engine::pipeline {
namespace {

constexpr char kBlockFormat[] = "quantd-block/1";
constexpr char kStreamsFormat[] = "quantd-checkpoint/2";
constexpr char kStreamsFile[] = "streams.safetensors";
constexpr char kStreamsName[] = "checkpoint/streams.safetensors";
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

// The state description without the FP weights (only the HF export reads
// them).
nlohmann::json WithoutFpWeights(nlohmann::json state) {
  if (state.is_object() && state.contains("weights")) {
    for (nlohmann::json& weight : state["weights"]) {
      if (weight.is_object()) weight["fp_weight"] = false;
    }
  }
  return state;
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

std::string FpWeightName(const std::string& prefix, const std::string& linear) {
  return "quant." + prefix + linear + ".fp_weight";
}

// The fake-quantized weight a WeightState stands for.
at::Tensor DeriveWeight(const methods::WeightState& weight) {
  return quant::FakeQuantize(weight.fp_weight, weight.qparams,
                             weight.config.granularity,
                             weight.config.group_size);
}

// One weight entry of a block description as a state of its own, with
// `load` resolving its tensors (FP weights the model holds included).
methods::WeightState LoadWeightState(
    const nlohmann::json& description, const std::string& linear,
    const std::function<at::Tensor(const std::string&)>& load) {
  for (const nlohmann::json& entry : description.at("state").at("weights")) {
    if (entry.at("linear") != linear) continue;
    nlohmann::json alone = {{"activations", nlohmann::json::array()},
                            {"weights", nlohmann::json::array({entry})}};
    return methods::StateFromJson(
               alone, description.at("prefix").get<std::string>(), load)
        .weights.at(0);
  }
  throw std::runtime_error("block description has no weight state for '" +
                           linear + "'");
}

// A block file opened for reading: its description and a loader that
// resolves what the file leaves out (FP weights from the model).
class BlockReader {
 public:
  BlockReader(const std::filesystem::path& path,
              const CheckpointIdentity& identity, const io::TensorSource* model)
      : path_(path),
        reader_(io::SafetensorsReader::OpenFile(path)),
        model_(model) {
    CheckIdentity(path, reader_->metadata(), kBlockFormat, identity);
    description_ = ParseMetadataJson(path, reader_->metadata(), "block");
    try {
      prefix_ = description_.at("prefix").get<std::string>();
      // value() returns a copy: keep it alive while iterating.
      const nlohmann::json from_model =
          description_.value("fp_weight_from_model", nlohmann::json::array());
      for (const nlohmann::json& linear : from_model) {
        model_names_[FpWeightName(prefix_, linear.get<std::string>())] =
            prefix_ + linear.get<std::string>() + ".weight";
      }
      const nlohmann::json derived =
          description_.value("derived", nlohmann::json::object());
      for (const auto& [tensor, linear] : derived.items()) {
        derived_[tensor] = linear.get<std::string>();
      }
    } catch (const nlohmann::json::exception& error) {
      throw std::runtime_error(
          path.string() + ": malformed block description: " + error.what());
    }
    if (!model_names_.empty() && model_ == nullptr) {
      throw std::runtime_error(path.string() +
                               ": FP weights refer to the model, which is "
                               "not available");
    }
  }

  const std::filesystem::path& path() const { return path_; }
  const nlohmann::json& description() const { return description_; }
  const io::SafetensorsReader& file() const { return *reader_; }
  const std::map<std::string, std::string>& derived() const { return derived_; }

  // A stored tensor, or an FP weight the model holds; float32 on the CPU.
  at::Tensor Load(const std::string& name) const {
    auto found = model_names_.find(name);
    if (found != model_names_.end()) return model_->LoadFloat(found->second);
    return reader_->LoadFloat(name);
  }

  // The shape of what Load(name) returns, from the headers alone.
  std::vector<int64_t> ShapeOf(const std::string& name) const {
    auto found = model_names_.find(name);
    const std::string& wanted =
        found != model_names_.end() ? found->second : name;
    const io::TensorSource& source =
        found != model_names_.end() ? *model_ : *reader_;
    for (const io::TensorInfo& info : source.Tensors()) {
      if (info.name == wanted) return info.shape;
    }
    throw std::runtime_error(path_.string() + ": no tensor '" + wanted + "'");
  }

  // A block tensor: stored, or recomputed from its weight state.
  at::Tensor LoadTensor(const std::string& name) const {
    auto derived = derived_.find(name);
    if (derived == derived_.end()) return reader_->LoadFloat(name);
    return DeriveWeight(LoadWeightState(
        description_, derived->second,
        [this](const std::string& stored) { return Load(stored); }));
  }

 private:
  std::filesystem::path path_;
  std::unique_ptr<io::SafetensorsReader> reader_;
  const io::TensorSource* model_;
  nlohmann::json description_;
  std::string prefix_;
  std::map<std::string, std::string> model_names_;  // fp_weight -> model name
  std::map<std::string, std::string> derived_;      // tensor -> linear
};

// The quantized model's view of one block file.
class BlockFileSource : public io::TensorSource {
 public:
  explicit BlockFileSource(std::unique_ptr<BlockReader> block)
      : block_(std::move(block)) {
    std::set<std::string> names;
    for (const nlohmann::json& name : block_->description().at("tensors")) {
      names.insert(name.get<std::string>());
    }
    for (const io::TensorInfo& info : block_->file().Tensors()) {
      if (names.count(info.name) != 0) infos_.push_back(info);
    }
    for (const auto& [tensor, linear] : block_->derived()) {
      const std::string fp = FpWeightName(
          block_->description().at("prefix").get<std::string>(), linear);
      io::TensorInfo info;
      info.name = tensor;
      info.storage = io::StorageType::kF32;
      info.shape = FpShape(fp);
      info.size_bytes =
          static_cast<uint64_t>(c10::multiply_integers(info.shape)) *
          sizeof(float);
      infos_.push_back(std::move(info));
    }
  }

  const std::vector<io::TensorInfo>& Tensors() const override { return infos_; }
  bool Contains(std::string_view name) const override {
    for (const io::TensorInfo& info : infos_) {
      if (info.name == name) return true;
    }
    return false;
  }
  at::Tensor LoadFloat(std::string_view name) const override {
    if (!Contains(name)) {
      throw std::runtime_error(block_->path().string() + ": tensor '" +
                               std::string(name) + "' is not in the block");
    }
    return block_->LoadTensor(std::string(name));
  }
  std::string Describe() const override { return block_->path().string(); }

 private:
  // A derived tensor has its FP weight's shape (in the file, or the
  // model's).
  std::vector<int64_t> FpShape(const std::string& fp) const {
    return block_->ShapeOf(fp);
  }

  std::unique_ptr<BlockReader> block_;
  std::vector<io::TensorInfo> infos_;
};

}  // namespace

std::string BlockFileName(int64_t index) {
  char buffer[48];
  std::snprintf(buffer, sizeof(buffer), "block-%05lld.safetensors",
                static_cast<long long>(index));
  return buffer;
}

CheckpointStore::CheckpointStore(const std::filesystem::path& out_dir,
                                 CheckpointIdentity identity,
                                 const io::TensorSource* model)
    : dir_(out_dir / "checkpoint"),
      identity_(std::move(identity)),
      model_(model) {}

const char* CheckpointStore::StreamsName() { return kStreamsName; }

std::filesystem::path CheckpointStore::PathOf(const BlockFile& file) const {
  return dir_.parent_path() / file.name;
}

BlockFileContents CheckpointStore::PrepareBlock(
    const FinishedBlock& block) const {
  // What can be recomputed bit for bit is left out (see the header).
  nlohmann::json derived = nlohmann::json::object();
  nlohmann::json from_model = nlohmann::json::array();
  std::set<std::string> omitted;
  for (const methods::WeightState& weight : block.state.weights) {
    if (!weight.config.enabled || !weight.fp_weight.defined()) continue;
    const std::string name = block.prefix + weight.linear + ".weight";
    for (const auto& [tensor_name, tensor] : block.tensors) {
      if (tensor_name == name &&
          at::equal(DeriveWeight(weight),
                    tensor.to(weight.fp_weight.device()))) {
        derived[name] = weight.linear;
        omitted.insert(name);
      }
    }
    if (model_ != nullptr && model_->Contains(name) &&
        at::equal(model_->LoadFloat(name),
                  weight.fp_weight.detach().to(at::kCPU, at::kFloat))) {
      from_model.push_back(weight.linear);
      omitted.insert(FpWeightName(block.prefix, weight.linear));
    }
  }
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& [name, tensor] : block.tensors) {
    if (omitted.count(name) == 0) tensors.emplace_back(name, tensor);
  }
  for (auto& [name, tensor] :
       methods::StateTensors(block.state, block.prefix)) {
    if (omitted.count(name) == 0) tensors.emplace_back(name, tensor);
  }
  AddRangeTensors(block, tensors);
  nlohmann::json description = BlockJson(block);
  description["derived"] = std::move(derived);
  description["fp_weight_from_model"] = std::move(from_model);
  BlockFileContents contents;
  contents.tensors = std::move(tensors);
  contents.metadata = IdentityMetadata(kBlockFormat, identity_);
  contents.metadata["index"] = std::to_string(block.index);
  contents.metadata["block"] = description.dump();
  contents.summary.file.index = block.index;
  contents.summary.file.name = "checkpoint/" + BlockFileName(block.index);
  contents.summary.prefix = block.prefix;
  contents.summary.figures = block.figures;
  contents.summary.seconds = block.seconds;
  return contents;
}

exporting::WrittenFile CheckpointStore::WriteBlock(
    BlockFileContents& contents) const {
  const exporting::WrittenFile written = exporting::WriteSafetensors(
      PathOf(contents.summary.file), contents.tensors, contents.metadata);
  contents.summary.file.sha256 = written.sha256;
  contents.summary.file.size_bytes = written.size_bytes;
  return written;
}

exporting::WrittenFile CheckpointStore::WriteStreams(
    const std::vector<BlockSummary>& blocks, const at::Tensor& stream_quantized,
    const at::Tensor& stream_fp) const {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  if (stream_quantized.defined()) {
    tensors.emplace_back(kStreamQuantized, stream_quantized);
  }
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
      const BlockReader header(file, identity_, model_);
      const nlohmann::json& json = header.description();
      block.prefix = json.at("prefix").get<std::string>();
      block.figures = FiguresOf(json);
      block.seconds = json.value("seconds", 0.0);
      checkpoint.blocks.push_back(std::move(block));
    }
  } catch (const nlohmann::json::exception& error) {
    throw std::runtime_error(path.string() +
                             ": malformed block entry: " + error.what());
  }
  if (reader->Contains(kStreamQuantized)) {  // Absent when data-free.
    checkpoint.stream_quantized =
        reader->LoadFloat(kStreamQuantized).to(device);
  }
  if (reader->Contains(kStreamFp)) {
    checkpoint.stream_fp = reader->LoadFloat(kStreamFp).to(device);
  }
  return checkpoint;
}

FinishedBlock CheckpointStore::ReadBlock(const BlockFile& file,
                                         BlockContents contents,
                                         const at::Device& device) const {
  const BlockReader reader(PathOf(file), identity_, model_);
  const nlohmann::json& json = reader.description();
  auto load = [&](const std::string& name) {
    return reader.Load(name).to(device);
  };
  FinishedBlock block;
  try {
    block.index = json.at("index").get<int64_t>();
    block.prefix = json.at("prefix").get<std::string>();
    const bool tensors = contents != BlockContents::kActivations;
    const nlohmann::json& state = json.at("state");
    block.state =
        methods::StateFromJson(contents == BlockContents::kEverything ? state
                               : tensors ? WithoutFpWeights(state)
                                         : ActivationsOnly(state),
                               block.prefix, load);
    block.figures = FiguresOf(json);
    block.seconds = json.value("seconds", 0.0);
    if (tensors) {
      for (const nlohmann::json& entry : json.at("tensors")) {
        const std::string name = entry.get<std::string>();
        auto derived = reader.derived().find(name);
        const methods::WeightState* weight = nullptr;
        for (const methods::WeightState& candidate : block.state.weights) {
          if (derived != reader.derived().end() &&
              candidate.linear == derived->second &&
              candidate.fp_weight.defined()) {
            weight = &candidate;
          }
        }
        // Without the FP weights in memory, a derived tensor loads its own
        // (one weight at a time).
        block.tensors.emplace_back(
            name, weight != nullptr ? DeriveWeight(*weight)
                                    : reader.LoadTensor(name).to(device));
      }
      for (const nlohmann::json& entry : json.at("ranges")) {
        exporting::ChannelRange range;
        range.name = entry.at("name").get<std::string>();
        const std::string base = kRangePrefix + range.name;
        // Ranges stay on the CPU: only the exporter reads them.
        range.before_min = reader.Load(base + ".before_min");
        range.before_max = reader.Load(base + ".before_max");
        if (entry.at("after").get<bool>()) {
          range.after_min = reader.Load(base + ".after_min");
          range.after_max = reader.Load(base + ".after_max");
        }
        block.ranges.push_back(std::move(range));
      }
    }
  } catch (const nlohmann::json::exception& error) {
    throw std::runtime_error(reader.path().string() +
                             ": malformed block description: " + error.what());
  }
  if (block.index != file.index ||
      (contents != BlockContents::kActivations &&
       block.tensors.size() != json.at("tensors").size())) {
    throw std::runtime_error(reader.path().string() +
                             ": holds another or an incomplete block");
  }
  return block;
}

std::shared_ptr<const io::TensorSource> CheckpointStore::OpenBlock(
    const BlockFile& file) const {
  return std::make_shared<BlockFileSource>(
      std::make_unique<BlockReader>(PathOf(file), identity_, model_));
}

void CheckpointStore::Remove() const {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

}  // namespace quantd::engine::pipeline
