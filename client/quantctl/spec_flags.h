// Turns the flags of `quantctl submit` into a SubmitJobRequest: the model,
// method, scheme, calibration, evaluation, export, method parameters,
// labels and scheduling fields. Pure: no I/O beyond making paths absolute,
// so every mapping and error is unit-tested.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/quantctl/data_source.h"
#include "client/quantctl/scheme_flags.h"
#include "quantd/v1/jobs.pb.h"

namespace quantd::client {

// Flag values as typed; an empty string means the flag was not given.
struct SubmitFlags {
  // Positional: path, file:// URI or sha256: blob reference.
  std::string model;
  std::string method;
  SchemeFlags scheme;
  std::string calib_data;
  std::string samples;
  std::string seq_len;
  std::string seed;
  std::string eval_data;
  std::string eval_seq_len;
  std::string max_tokens;
  bool no_eval = false;
  std::vector<std::string> exports;
  std::vector<std::string> params;
  std::vector<std::string> labels;
  std::string priority;
  std::string device;
  std::string max_attempts;
  // An accuracy target (docs/TARGETS.md): the bound, and the fallbacks as
  // METHOD or METHOD@PRESET, tried in order.
  std::string max_ppl_increase;
  std::string min_cosine;
  std::vector<std::string> fallbacks;
  // Required here; the command fills a random one when the flag is absent.
  std::string request_id;
};

// A model or dataset given as a local path, which may be uploaded.
struct LocalInput {
  // JobSpec field the DataRef sits in: "model", "calibration.dataset",
  // "evaluation.dataset".
  std::string field;
  // The flag that named it ("MODEL", "--calib-data", "--eval-data").
  std::string flag;
  // "model" or "dataset" (UploadBlobHeader.kind).
  std::string kind;
  std::string path;
};

struct SubmitPlan {
  quantd::v1::SubmitJobRequest request;
  std::vector<LocalInput> local_inputs;
};

// InvalidArgument naming the flag at fault ("--samples: must be in
// 1..4096, got 0").
[[nodiscard]] absl::StatusOr<SubmitPlan> BuildSubmitPlan(
    const SubmitFlags& flags);

// The DataRef inside `spec` at `field` (one of LocalInput's fields).
quantd::v1::DataRef* MutableDataRef(quantd::v1::JobSpec& spec,
                                    const std::string& field);

}  // namespace quantd::client
