#include "worker/engine/export/exporter.h"

#include <cmath>

#include "worker/engine/export/atomic_file.h"
#include "worker/engine/export/compressed_tensors_exporter.h"
#include "worker/engine/export/export_error.h"
#include "worker/engine/export/gguf_exporter.h"
#include "worker/engine/export/hf_model_exporter.h"
#include "worker/engine/export/report.h"

namespace quantd::engine::exporting {
namespace {

at::Tensor CpuFloat(const at::Tensor& tensor) {
  return tensor.defined() ? tensor.detach().to(at::kCPU, at::kFloat).clone()
                          : at::Tensor();
}

// Artifacts of the files a writer produced under `subdir`.
std::vector<Artifact> Listed(const std::string& subdir, const std::string& kind,
                             const std::vector<ShardFile>& files) {
  std::vector<Artifact> artifacts;
  for (const ShardFile& file : files) {
    artifacts.push_back({subdir + "/" + file.name, kind, file.file});
  }
  return artifacts;
}

void Append(std::vector<Artifact>& to, const std::vector<Artifact>& more) {
  to.insert(to.end(), more.begin(), more.end());
}

nlohmann::json Number(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json();
}

}  // namespace

Exporter::Exporter(ExportOptions options) : options_(std::move(options)) {}

Exporter::~Exporter() = default;

void Exporter::CheckState(const char* call, bool begun) const {
  if (begun_ != begun) {
    throw ExportError(std::string("Exporter::") + call +
                      (begun ? " before Begin" : " called twice"));
  }
  if (finished_) {
    throw ExportError(std::string("Exporter::") + call + " after Finish");
  }
}

void Exporter::Begin(JobInfo job) {
  CheckState("Begin", false);
  job_ = std::move(job);
  std::error_code error;
  std::filesystem::create_directories(options_.out_dir, error);
  if (error) {
    throw ExportError(options_.out_dir.string() +
                      ": cannot create out dir: " + error.message());
  }
  if (options_.hf_model) {
    hf_ = std::make_unique<HfModelExporter>(
        job_.config,
        HfModelOptions{
            options_.out_dir /
                contract::InfoOf(contract::ExportFormat::kHfSafetensors)
                    .directory,
            job_.model_source, options_.max_shard_bytes});
  }
  if (options_.packed) {
    packed_ = std::make_unique<PackedExporter>(PackedOptions{
        options_.out_dir /
            contract::InfoOf(contract::ExportFormat::kPackedInt).directory,
        options_.max_shard_bytes});
  }
  if (options_.compressed_tensors) {
    compressed_tensors_ = std::make_unique<CompressedTensorsExporter>(
        job_.config,
        CompressedTensorsOptions{
            options_.out_dir /
                contract::InfoOf(contract::ExportFormat::kCompressedTensors)
                    .directory,
            job_.model_source, options_.max_shard_bytes, options_.weights,
            options_.activations});
  }
  if (options_.gguf) {
    gguf_ = std::make_unique<GgufExporter>(
        job_.config,
        GgufOptions{
            options_.out_dir /
                contract::InfoOf(contract::ExportFormat::kGguf).directory,
            job_.model_source, contract::GgufTypeFor(options_.weights),
            job_.method, job_.scheme});
  }
  blocks_.assign(
      static_cast<size_t>(std::max<int64_t>(job_.config.num_layers, 0)),
      BlockRecord{});
  begun_ = true;
}

void Exporter::AddBlock(const BlockExport& block) {
  CheckState("AddBlock", true);
  if (block.index < 0 || block.index >= static_cast<int64_t>(blocks_.size())) {
    throw ExportError("AddBlock: block " + std::to_string(block.index) +
                      " is out of range [0, " + std::to_string(blocks_.size()) +
                      ")");
  }
  BlockRecord& record = blocks_[static_cast<size_t>(block.index)];
  if (record.added) {
    throw ExportError("AddBlock: block " + std::to_string(block.index) +
                      " was already added");
  }
  // Packing validates the layers, so it goes first: a bad layer then
  // fails before anything of the block is staged.
  if (packed_) {
    packed_->AddBlock(block.tensors, block.linears, block.activations);
  }
  if (compressed_tensors_) {
    compressed_tensors_->AddBlock(block.tensors, block.linears,
                                  block.activations);
  }
  if (gguf_) gguf_->AddBlock(block.index, block.tensors, block.linears);
  if (hf_) {
    hf_->Add(block.fp_tensors.empty() ? block.tensors : block.fp_tensors);
    if (!block.fp_tensors.empty()) ++fp_blocks_;
  }
  for (const QuantizedLinear& linear : block.linears) {
    if (!linear.config.enabled) continue;
    layers_[linear.name] = {{"config", QuantConfigJson(linear.config)},
                            {"qmin", linear.qparams.qmin},
                            {"qmax", linear.qparams.qmax}};
  }
  for (const ActivationQuant& activation : block.activations) {
    activations_[activation.name] = {
        {"config", QuantConfigJson(activation.config)},
        {"static", activation.qparams.has_value()},
        {"input_transform",
         activation.input_shift.defined() || activation.input_scale.defined()}};
  }
  for (const ChannelRange& range : block.ranges) {
    ranges_.push_back({range.name, CpuFloat(range.before_min),
                       CpuFloat(range.before_max), CpuFloat(range.after_min),
                       CpuFloat(range.after_max)});
  }
  record = {true, block.seconds, block.figures};
}

void Exporter::AddResident(
    const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  CheckState("AddResident", true);
  if (resident_added_) throw ExportError("AddResident called twice");
  if (hf_) hf_->Add(tensors);
  if (packed_) packed_->AddFloat(tensors);
  if (compressed_tensors_) compressed_tensors_->AddResident(tensors);
  if (gguf_) gguf_->AddResident(tensors);
  resident_added_ = true;
}

Exporter::Plots Exporter::WritePlots() const {
  Plots plots{{}, nlohmann::json::array()};
  std::vector<size_t> order = WorstRanges(ranges_, ranges_.size());
  for (size_t rank = 0; rank < order.size(); ++rank) {
    const ChannelRange& range = ranges_[order[rank]];
    nlohmann::json summary = SummarizeRange(range);
    if (rank < options_.plotted_sites) {
      const std::string name = "plots/" + PlotFileName(range.name);
      plots.artifacts.push_back({name, "plot",
                                 WriteFileAtomically(options_.out_dir / name,
                                                     RenderRangePlot(range))});
      summary["plot"] = name;
    }
    plots.summaries.push_back(std::move(summary));
  }
  return plots;
}

nlohmann::json Exporter::BlocksJson() const {
  nlohmann::json blocks = nlohmann::json::array();
  for (size_t i = 0; i < blocks_.size(); ++i) {
    blocks.push_back({{"index", i},
                      {"seconds", Number(blocks_[i].seconds)},
                      {"figures", blocks_[i].figures}});
  }
  return blocks;
}

nlohmann::json Exporter::LayersJson() const {
  nlohmann::json layers = layers_;
  if (packed_) {
    for (const auto& [name, entry] : packed_->layers().items()) {
      layers[name]["bit_exact"] = entry.at("bit_exact");
    }
  }
  return layers;
}

const char* Exporter::HfWeightsKind() const {
  if (!hf_) return "not exported";
  if (fp_blocks_ == blocks_.size()) return "transformed_fp";
  return fp_blocks_ == 0 ? "fake_quantized" : "mixed";
}

nlohmann::json Exporter::ReportJson(const RunSummary& summary,
                                    const std::vector<Artifact>& artifacts,
                                    nlohmann::json ranges) const {
  nlohmann::json listed = nlohmann::json::array();
  for (const Artifact& artifact : artifacts) {
    listed.push_back({{"name", artifact.name},
                      {"kind", artifact.kind},
                      {"sha256", artifact.file.sha256},
                      {"size_bytes", artifact.file.size_bytes}});
  }
  nlohmann::json report = {
      {"format", "quantd-report"},
      {"format_version", 1},
      {"spec", job_.spec},
      {"model", summary.model},
      {"method", job_.method},
      {"scheme", job_.scheme},
      {"result",
       {{"metric", summary.metric},
        {"fp_value", Number(summary.fp_value)},
        {"quantized_value", Number(summary.quantized_value)},
        {"eval_tokens", summary.eval_tokens},
        {"eval_seq_len", summary.eval_seq_len}}},
      {"resources",
       {{"wall_seconds", Number(summary.wall_seconds)},
        {"peak_host_memory_bytes", summary.peak_host_memory_bytes},
        {"peak_device_memory_bytes", summary.peak_device_memory_bytes},
        {"device", job_.device}}},
      {"blocks", BlocksJson()},
      {"quantized_layers", LayersJson()},
      {"activations", activations_},
      {"activation_ranges", std::move(ranges)},
      {"hf_model_weights", HfWeightsKind()},
      {"artifacts", listed},
      {"exports", ExportsJson(artifacts)}};
  report.update(summary.extra);
  return report;
}

nlohmann::json Exporter::ExportsJson(
    const std::vector<Artifact>& artifacts) const {
  nlohmann::json exports = nlohmann::json::array();
  auto add = [&](contract::ExportFormat format, nlohmann::json details) {
    const contract::ExportFormatInfo& info = contract::InfoOf(format);
    const std::string kind = info.artifact_kind;
    nlohmann::json files = nlohmann::json::array();
    for (const Artifact& artifact : artifacts) {
      if (artifact.kind != kind) continue;
      files.push_back({{"name", artifact.name},
                       {"sha256", artifact.file.sha256},
                       {"size_bytes", artifact.file.size_bytes}});
    }
    nlohmann::json entry = {{"format", info.cli_name},
                            {"specification", info.specification},
                            {"directory", info.directory},
                            {"files", files}};
    entry.update(details);
    exports.push_back(std::move(entry));
  };
  if (hf_) {
    add(contract::ExportFormat::kHfSafetensors, nlohmann::json::object());
  }
  if (packed_) {
    add(contract::ExportFormat::kPackedInt, nlohmann::json::object());
  }
  if (compressed_tensors_) {
    add(contract::ExportFormat::kCompressedTensors,
        compressed_tensors_->Summary());
  }
  if (gguf_) add(contract::ExportFormat::kGguf, gguf_->Summary());
  return exports;
}

std::vector<Artifact> Exporter::Finish(const RunSummary& summary) {
  CheckState("Finish", true);
  for (size_t i = 0; i < blocks_.size(); ++i) {
    if (!blocks_[i].added) {
      throw ExportError("Exporter::Finish: block " + std::to_string(i) +
                        " was never added");
    }
  }
  if (!resident_added_) {
    throw ExportError(
        "Exporter::Finish: the resident tensors were never "
        "added");
  }
  finished_ = true;
  std::vector<Artifact> artifacts;
  if (hf_) {
    const contract::ExportFormatInfo& info =
        contract::InfoOf(contract::ExportFormat::kHfSafetensors);
    Append(artifacts,
           Listed(info.directory, info.artifact_kind, hf_->Finish()));
  }
  if (packed_) {
    const contract::ExportFormatInfo& info =
        contract::InfoOf(contract::ExportFormat::kPackedInt);
    Append(artifacts, Listed(info.directory, info.artifact_kind,
                             packed_->Finish({{"method", job_.method},
                                              {"scheme", job_.scheme}})));
  }
  if (compressed_tensors_) {
    const contract::ExportFormatInfo& info =
        contract::InfoOf(contract::ExportFormat::kCompressedTensors);
    Append(artifacts, Listed(info.directory, info.artifact_kind,
                             compressed_tensors_->Finish()));
  }
  if (gguf_) {
    const contract::ExportFormatInfo& info =
        contract::InfoOf(contract::ExportFormat::kGguf);
    Append(artifacts,
           Listed(info.directory, info.artifact_kind, gguf_->Finish()));
  }
  Plots plots = WritePlots();
  Append(artifacts, plots.artifacts);
  RunSummary measured = summary;
  if (measured.measure) measured.measure(measured);
  const nlohmann::json report =
      ReportJson(measured, artifacts, std::move(plots.summaries));
  artifacts.push_back({"report.json", "report",
                       WriteFileAtomically(options_.out_dir / "report.json",
                                           report.dump(2) + "\n")});
  artifacts.push_back({"report.md", "report",
                       WriteFileAtomically(options_.out_dir / "report.md",
                                           RenderReportMarkdown(report))});
  const ManifestInfo info{job_.engine_version, job_.seed, job_.device,
                          job_.spec, job_.spec_sha256};
  nlohmann::json manifest =
      ManifestJson(info, DescribeInputs(job_.inputs), artifacts);
  manifest["exports"] = ExportsJson(artifacts);
  artifacts.push_back({"manifest.json", "manifest",
                       WriteFileAtomically(options_.out_dir / "manifest.json",
                                           manifest.dump(2) + "\n")});
  return artifacts;
}

}  // namespace quantd::engine::exporting
