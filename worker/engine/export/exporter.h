// Exporter: the pipeline's one call point for a job's artifacts
// (docs/DESIGN.md §3 step 6), under the job's out dir:
//   model/     the transformed model in HF layout (hf_model_exporter.h)
//   packed/    integer-packed weights + quant_config.json
//              (packed_exporter.h, docs/formats/packed-weights.md)
//   compressed-tensors/  what vLLM and transformers load
//              (compressed_tensors_exporter.h)
//   gguf/      model.gguf, what llama.cpp loads (gguf_exporter.h)
//   plots/     per-channel activation ranges of the worst sites (SVG)
//   report.json, report.md   the job report (report.h)
//   manifest.json            inputs, outputs, versions (manifest.h)
//
// Call sequence (blocks stream through; only one needs to be resident):
//   Exporter exporter(options);
//   exporter.Begin(job);                       // once, first
//   exporter.AddBlock(block);                  // every block index once,
//                                              // in any order
//   exporter.AddResident(model.NamedTensors());  // once, any time
//   std::vector<Artifact> artifacts = exporter.Finish(summary);
// Each artifact is complete (renamed into place) when listed; emit one
// `artifact` event per entry. Every byte is written once, into the
// artifact's own directory (model shards under hidden provisional names
// until Finish names them; sharded_writer.h).
//
// Ownership: the Exporter copies what it keeps (small per-block records);
// tensors passed in are only read during the call. Not thread-safe.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "contract/export_format.h"
#include "worker/engine/export/activation_ranges.h"
#include "worker/engine/export/manifest.h"
#include "worker/engine/export/packed_exporter.h"
#include "worker/engine/io/model_config.h"

namespace quantd::engine::exporting {

class HfModelExporter;
class CompressedTensorsExporter;
class GgufExporter;

struct ExportOptions {
  std::filesystem::path out_dir;
  bool hf_model = true;             // Spec export format HF_SAFETENSORS.
  bool packed = true;               // Spec export format PACKED_INT.
  bool compressed_tensors = false;  // COMPRESSED_TENSORS.
  bool gguf = false;                // GGUF.
  // The job's effective scheme, for the formats that describe it
  // (contract::CheckExportable has accepted it for each).
  contract::TensorScheme weights;
  contract::TensorScheme activations;
  // Tensor data per safetensors file before the output is sharded; > 0.
  // The export holds at most one shard of each output in memory.
  uint64_t max_shard_bytes = uint64_t{1} << 30;
  // Sites plotted (those with the largest outlier ratio before the method).
  size_t plotted_sites = 4;
};

struct JobInfo {
  io::ModelConfig config;
  // The model as the job read it: a .gguf file or an HF directory.
  std::filesystem::path model_source;
  nlohmann::json spec;  // The canonical spec.
  std::string spec_sha256;
  std::string method;  // "osplus"
  std::string scheme;  // "w4a16-g128"
  uint64_t seed = 0;
  std::string device;  // "cpu", "cuda:0"
  std::string engine_version;
  // Hashed into the manifest (model files, datasets, spec file).
  std::vector<InputFile> inputs;
};

struct BlockExport {
  int64_t index = 0;
  // The block's tensors under full HF names as the quantized model
  // computes with them (after the method: transformed, with quantized
  // weights fake-quantized). The packed artifact is built from these.
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  // The transformed FP tensors (before weight quantization), for the HF
  // model artifact; empty: `tensors` are exported there instead (the
  // report records which).
  std::vector<std::pair<std::string, at::Tensor>> fp_tensors;
  std::vector<QuantizedLinear> linears;
  std::vector<ActivationQuant> activations;
  std::vector<ChannelRange> ranges;
  // The block's layer figures as in the progress event's "layers".
  nlohmann::json figures = nlohmann::json::array();
  double seconds = 0.0;  // Wall time the block took.
};

struct RunSummary {
  std::string metric;  // "perplexity", "cosine"; "" when skipped.
  double fp_value = std::numeric_limits<double>::quiet_NaN();
  double quantized_value = std::numeric_limits<double>::quiet_NaN();
  int64_t eval_tokens = 0;
  int64_t eval_seq_len = 0;
  double wall_seconds = 0.0;
  uint64_t peak_host_memory_bytes = 0;
  uint64_t peak_device_memory_bytes = 0;
  // Shown in the report: {path, sha256, architecture, blocks, ...}.
  nlohmann::json model = nlohmann::json::object();
  // Merged into report.json as is (e.g. {"threads": 2}).
  nlohmann::json extra = nlohmann::json::object();
  // When set, called by Finish after the model and packed files are written
  // and before the report: fills the resources, so they cover the export.
  std::function<void(RunSummary&)> measure;
};

class Exporter {
 public:
  explicit Exporter(ExportOptions options);
  ~Exporter();
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

  // Throws ExportError (a model whose config.json cannot be produced, an
  // unwritable out dir) before any block work is lost.
  void Begin(JobInfo job);
  // Stages the block's HF and packed tensors. Throws ExportError for a
  // block index out of range or added twice, or a bad layer.
  void AddBlock(const BlockExport& block);
  // The resident tensors (embedding, final norm, head) under HF names.
  void AddResident(
      const std::vector<std::pair<std::string, at::Tensor>>& tensors);
  // Writes every artifact and lists them in writing order (the manifest
  // last). Throws ExportError when a block or the residents are missing.
  std::vector<Artifact> Finish(const RunSummary& summary);

 private:
  struct BlockRecord {
    bool added = false;
    double seconds = 0.0;
    nlohmann::json figures;
  };

  void CheckState(const char* call, bool begun) const;
  struct Plots {
    std::vector<Artifact> artifacts;
    nlohmann::json summaries;  // Every site, worst first; "plot" if drawn.
  };
  Plots WritePlots() const;
  nlohmann::json BlocksJson() const;
  // layers_ with each packed layer's bit_exact.
  nlohmann::json LayersJson() const;
  // "transformed_fp", "fake_quantized", "mixed" or "not exported".
  const char* HfWeightsKind() const;
  nlohmann::json ReportJson(const RunSummary& summary,
                            const std::vector<Artifact>& artifacts,
                            nlohmann::json ranges) const;
  // Per written format: {format, specification, directory, files, ...}
  // for the manifest and the report.
  nlohmann::json ExportsJson(const std::vector<Artifact>& artifacts) const;

  ExportOptions options_;
  bool begun_ = false;
  bool finished_ = false;
  bool resident_added_ = false;
  JobInfo job_;
  std::unique_ptr<HfModelExporter> hf_;
  std::unique_ptr<PackedExporter> packed_;
  std::unique_ptr<CompressedTensorsExporter> compressed_tensors_;
  std::unique_ptr<GgufExporter> gguf_;
  std::vector<BlockRecord> blocks_;
  std::vector<ChannelRange> ranges_;
  nlohmann::json layers_ = nlohmann::json::object();
  nlohmann::json activations_ = nlohmann::json::object();
  size_t fp_blocks_ = 0;  // Blocks whose HF tensors were transformed FP.
};

}  // namespace quantd::engine::exporting
