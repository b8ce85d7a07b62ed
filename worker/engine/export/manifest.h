// The manifest of a job's outputs (manifest.json): what went in (every
// input file with its SHA-256 and size: model files, calibration and
// evaluation data, the spec), what came out (every artifact with its
// SHA-256 and size), and how (engine and LibTorch versions, seed, device,
// the canonical spec). Anyone holding the manifest can check that a set of
// artifacts is complete and unmodified, and rerun the job.
//
// Plain values and functions; thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "worker/engine/export/atomic_file.h"

namespace quantd::engine::exporting {

// An output of the job, as the pipeline reports it in an `artifact` event.
struct Artifact {
  std::string name;  // Relative to the out dir, e.g. "model/config.json".
  std::string kind;  // model, packed, report, manifest, plot
  WrittenFile file;  // Absolute path, sha256, size_bytes.
};

struct InputFile {
  std::string role;  // "model", "calibration", "evaluation", "spec", ...
  // A file, or a directory: then every regular, non-hidden file directly
  // inside it, in name order (an HF model directory).
  std::filesystem::path path;
  // Lower-case hex SHA-256 when the caller already has it (files only);
  // empty: computed.
  std::string sha256;
};

// [{role, path, sha256, size_bytes}] with directories expanded. Throws
// ExportError naming a missing or unreadable input.
nlohmann::json DescribeInputs(const std::vector<InputFile>& inputs);

struct ManifestInfo {
  std::string engine_version;
  uint64_t seed = 0;
  std::string device;       // "cpu", "cuda:0"
  nlohmann::json spec;      // The canonical spec.
  std::string spec_sha256;  // Its SHA-256 (checkpoint identity).
};

// The LibTorch version the engine was built against ("2.11.0").
std::string LibTorchVersion();

// The manifest document; `inputs` from DescribeInputs.
nlohmann::json ManifestJson(const ManifestInfo& info,
                            const nlohmann::json& inputs,
                            const std::vector<Artifact>& outputs);

}  // namespace quantd::engine::exporting
