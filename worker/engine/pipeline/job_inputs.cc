#include "worker/engine/pipeline/job_inputs.h"

#include <algorithm>
#include <vector>

#include "contract/sha256.h"
#include "worker/engine/eval/perplexity.h"
#include "worker/engine/io/model_loader.h"
#include "worker/engine/io/sha256_cache.h"
#include "worker/engine/model/model_factory.h"
#include "worker/engine/pipeline/calibration_data.h"
#include "worker/engine/tokenizer/tokenizer.h"

namespace quantd::engine::pipeline {

std::string ModelSha256(const std::filesystem::path& path) {
  if (!std::filesystem::is_directory(path)) return io::CachedSha256File(path);
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(path)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && !name.empty() && name[0] != '.') {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  contract::Sha256 hash;
  for (const std::filesystem::path& file : files) {
    hash.Update(file.filename().string() + " " + io::CachedSha256File(file) +
                "\n");
  }
  return hash.FinishHex();
}

JobInputs LoadJobInputs(JobSpec& spec, const at::Device& device,
                        EventSink& events) {
  io::LoadedModel opened = io::OpenModel(spec.model_path);
  ValidateAgainstModel(spec, opened.config);
  JobInputs inputs;
  inputs.config = opened.config;
  model::ModelOptions options;
  options.device = device;
  inputs.model = model::MakeModel(
      opened.config,
      std::shared_ptr<const io::TensorSource>(std::move(opened.tensors)),
      options);
  if (opened.tokenizer.kind == tokenizer::TokenizerData::Kind::kNone) {
    throw SpecError("model", spec.model_path.string() +
                                 " has no tokenizer to read the datasets");
  }
  std::unique_ptr<tokenizer::Tokenizer> tokens =
      tokenizer::MakeTokenizer(opened.tokenizer);
  inputs.model_sha256 = ModelSha256(spec.model_path);
  HashDatasets(spec);
  events.State("running");
  events.Log("info", "model " + spec.model_path.string() + " (" +
                         io::ArchitectureName(inputs.config.architecture) +
                         ", " + std::to_string(inputs.config.num_layers) +
                         " blocks), sha256 " + inputs.model_sha256);
  std::vector<int32_t> calibration = TokenizeTextFile(
      spec.calibration.dataset, *tokens, "calibration.dataset");
  inputs.calibration = DrawWindows(
      calibration, spec.calibration.n_samples, spec.calibration.seq_len,
      spec.calibration.seed, "calibration.dataset");
  if (!spec.evaluation.skip) {
    inputs.evaluation =
        eval::TokenizeText(*tokens, eval::ReadText(spec.evaluation.dataset));
  }
  return inputs;
}

}  // namespace quantd::engine::pipeline
