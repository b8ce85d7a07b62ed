#include "worker/engine/export/manifest.h"

#include <torch/version.h>

#include <algorithm>

#include "contract/sha256.h"
#include "worker/engine/export/export_error.h"
#include "worker/engine/io/format_error.h"

namespace quantd::engine::exporting {
namespace {

nlohmann::json DescribeFile(const std::string& role,
                            const std::filesystem::path& path,
                            const std::string& known_sha256) {
  std::error_code error;
  const uint64_t size = std::filesystem::file_size(path, error);
  if (error) {
    throw ExportError("manifest: input '" + role + "' " + path.string() + ": " +
                      error.message());
  }
  std::string sha256 = known_sha256;
  if (sha256.empty()) {
    try {
      sha256 = contract::Sha256FileHex(path);
    } catch (const io::FormatError& failure) {
      throw ExportError("manifest: input '" + role + "': " + failure.what());
    }
  }
  return {{"role", role},
          {"path", path.string()},
          {"sha256", sha256},
          {"size_bytes", size}};
}

}  // namespace

nlohmann::json DescribeInputs(const std::vector<InputFile>& inputs) {
  nlohmann::json described = nlohmann::json::array();
  for (const InputFile& input : inputs) {
    std::error_code error;
    if (!std::filesystem::is_directory(input.path, error)) {
      described.push_back(DescribeFile(input.role, input.path, input.sha256));
      continue;
    }
    std::vector<std::filesystem::path> files;
    for (const auto& entry :
         std::filesystem::directory_iterator(input.path, error)) {
      const std::string name = entry.path().filename().string();
      if (entry.is_regular_file() && !name.empty() && name[0] != '.') {
        files.push_back(entry.path());
      }
    }
    if (error) {
      throw ExportError("manifest: input '" + input.role + "' " +
                        input.path.string() + ": " + error.message());
    }
    std::sort(files.begin(), files.end());
    for (const std::filesystem::path& file : files) {
      described.push_back(DescribeFile(input.role, file, ""));
    }
  }
  return described;
}

std::string LibTorchVersion() { return TORCH_VERSION; }

nlohmann::json ManifestJson(const ManifestInfo& info,
                            const nlohmann::json& inputs,
                            const std::vector<Artifact>& outputs) {
  nlohmann::json artifacts = nlohmann::json::array();
  for (const Artifact& artifact : outputs) {
    artifacts.push_back({{"name", artifact.name},
                         {"kind", artifact.kind},
                         {"sha256", artifact.file.sha256},
                         {"size_bytes", artifact.file.size_bytes}});
  }
  return {{"format", "quantd-manifest"},
          {"format_version", 1},
          {"engine_version", info.engine_version},
          {"libtorch_version", LibTorchVersion()},
          {"seed", info.seed},
          {"device", info.device},
          {"spec", info.spec},
          {"spec_sha256", info.spec_sha256},
          {"inputs", inputs},
          {"outputs", artifacts}};
}

}  // namespace quantd::engine::exporting
