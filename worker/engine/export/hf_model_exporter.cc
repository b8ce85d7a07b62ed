#include "worker/engine/export/hf_model_exporter.h"

#include "worker/engine/export/export_error.h"
#include "worker/engine/export/hf_config_writer.h"
#include "worker/engine/export/tokenizer_files.h"

namespace quantd::engine::exporting {
namespace {

// The output projection of the decoders; absent when tied to the embedding.
constexpr char kLmHead[] = "lm_head.weight";

}  // namespace

HfModelExporter::HfModelExporter(const io::ModelConfig& config,
                                 HfModelOptions options)
    : config_(config),
      options_(std::move(options)),
      // transformers refuses safetensors whose metadata names no known
      // format.
      weights_(options_.dir, "model", options_.max_shard_bytes,
               {{"format", "pt"}}) {
  // Fails early, before any block work, for a config that cannot be built.
  CheckConfigExportable(config_, options_.source);
  CheckTokenizerExportable(options_.source);
}

void HfModelExporter::Add(
    const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  std::vector<std::pair<std::string, at::Tensor>> float32;
  float32.reserve(tensors.size());
  for (const auto& [name, tensor] : tensors) {
    if (!tensor.defined() || !at::isFloatingType(tensor.scalar_type())) {
      throw ExportError("HF export: tensor '" + name +
                        "' is not a floating-point tensor");
    }
    float32.emplace_back(name, tensor.detach().to(at::kCPU, at::kFloat));
  }
  weights_.AddGroup(float32);
}

std::string HfModelExporter::ConfigText() const {
  return ExportConfigJson(config_, options_.source, weights_.Contains(kLmHead))
             .dump(2) +
         "\n";
}

std::vector<ShardFile> HfModelExporter::Finish() {
  std::vector<ShardFile> files = weights_.Finish();
  files.push_back(
      {"config.json",
       WriteFileAtomically(options_.dir / "config.json", ConfigText())});
  for (ShardFile& file : WriteTokenizerFiles(options_.source, options_.dir)) {
    files.push_back(std::move(file));
  }
  return files;
}

}  // namespace quantd::engine::exporting
