// JobInputs: what a job reads before any work: the model (opened lazily,
// hashed), the spec checked against its config, and the calibration and
// evaluation token windows. LoadJobInputs is the disk path the CLI takes;
// tests build JobInputs in memory (random models, synthetic tokens).
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

#include "worker/engine/io/model_config.h"
#include "worker/engine/io/tensor_source.h"
#include "worker/engine/model/model.h"
#include "worker/engine/pipeline/events.h"
#include "worker/engine/pipeline/job_spec.h"

namespace quantd::engine::pipeline {

// Movable; owns the model (which shares the source).
struct JobInputs {
  io::ModelConfig config;
  std::unique_ptr<model::Model> model;  // FP model on the job's device.
  std::string model_sha256;
  at::Tensor calibration;  // [n_samples, seq_len] int64.
  // The whole evaluation text's token ids (eval::TokenizeText); empty when
  // evaluation is skipped.
  std::vector<int32_t> evaluation;
};

// SHA-256 of a .gguf file, or of an HF directory (every regular, non-hidden
// top-level file: name and hash, in name order). Each file's hash comes
// from io::CachedSha256File: an unchanged model is hashed once, not at
// every start or resume.
std::string ModelSha256(const std::filesystem::path& path);

// Opens the model, runs ValidateAgainstModel (filling default lengths),
// hashes model and datasets, emits `state: running`, then tokenizes and
// cuts the windows. Throws SpecError, io::FormatError, model::ModelError,
// tokenizer::TokenizerError.
JobInputs LoadJobInputs(JobSpec& spec, const at::Device& device,
                        EventSink& events);

}  // namespace quantd::engine::pipeline
