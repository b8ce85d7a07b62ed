#include "server/scheduler/model_inspector.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "contract/format_error.h"
#include "contract/gguf_header.h"
#include "nlohmann/json.hpp"

namespace quantd::scheduler {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMaxConfigBytes = 1u << 20;
constexpr uint64_t kMaxDimension = 1u << 24;

std::optional<std::string> RealPath(const std::string& path) {
  char* resolved = ::realpath(path.c_str(), nullptr);
  if (resolved == nullptr) return std::nullopt;
  std::string out(resolved);
  std::free(resolved);
  return out;
}

bool IsUnder(const std::string& path, const std::string& root) {
  if (root == "/") return true;
  return path == root || absl::StartsWith(path, root + "/");
}

// The first of `keys` present in `config` as a positive integer, or 0.
absl::StatusOr<uint64_t> Dimension(const nlohmann::json& config,
                                   std::initializer_list<const char*> keys,
                                   const std::string& field) {
  for (const char* key : keys) {
    auto it = config.find(key);
    if (it == config.end() || it->is_null()) continue;
    if (!it->is_number_unsigned() || it->get<uint64_t>() == 0 ||
        it->get<uint64_t>() > kMaxDimension) {
      return InvalidFieldError(
          field,
          absl::StrCat("config.json \"", key,
                       "\" must be a positive integer below ", kMaxDimension));
    }
    return it->get<uint64_t>();
  }
  return 0;
}

// The LLaMA-architecture decoders the engine runs: their model_type and
// the class-name prefix of their "architectures" entry, as the engine's
// config reader (worker/engine/io/hf_config.cc) detects them.
struct LlamaFamilyType {
  absl::string_view model_type;
  absl::string_view class_prefix;
};
constexpr LlamaFamilyType kLlamaFamily[] = {
    {"llama", "Llama"}, {"mistral", "Mistral"}, {"qwen2", "Qwen2"}};

bool IsLlamaFamilyType(absl::string_view model_type) {
  for (const LlamaFamilyType& type : kLlamaFamily) {
    if (type.model_type == model_type) return true;
  }
  return false;
}

// Sets info.architecture and info.llama_family: the model_type when given
// (the engine goes by it alone), else the first "architectures" class name.
// Anything of another type leaves the architecture unknown.
void ClassifyArchitecture(const nlohmann::json& config, ModelInfo& info) {
  const auto model_type = config.find("model_type");
  if (model_type != config.end() && model_type->is_string()) {
    info.architecture = model_type->get<std::string>();
    info.llama_family = IsLlamaFamilyType(info.architecture);
    return;
  }
  const auto classes = config.find("architectures");
  if (classes == config.end() || !classes->is_array() || classes->empty() ||
      !classes->front().is_string()) {
    return;
  }
  info.architecture = classes->front().get<std::string>();
  for (const LlamaFamilyType& type : kLlamaFamily) {
    if (absl::StartsWith(info.architecture, type.class_prefix)) {
      info.llama_family = true;
    }
  }
}

absl::StatusOr<nlohmann::json> ReadConfig(const fs::path& file,
                                          const std::string& field) {
  std::error_code error;
  const uint64_t size = fs::file_size(file, error);
  if (error) return InvalidFieldError(field, "cannot read config.json");
  if (size > kMaxConfigBytes) {
    return InvalidFieldError(field, "config.json is larger than 1 MiB");
  }
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json config =
      nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!config.is_object()) {
    return InvalidFieldError(field, "config.json is not a JSON object");
  }
  return config;
}

absl::StatusOr<ModelInfo> InspectDirectory(const fs::path& dir,
                                           const std::string& field) {
  if (!fs::is_regular_file(dir / "config.json")) {
    return InvalidFieldError(field, "a model directory needs a config.json");
  }
  QUANTD_ASSIGN_OR_RETURN(nlohmann::json config,
                          ReadConfig(dir / "config.json", field));
  ModelInfo info;
  info.format = "hf";
  QUANTD_ASSIGN_OR_RETURN(
      info.hidden_size,
      Dimension(config, {"hidden_size", "d_model", "n_embd"}, field));
  QUANTD_ASSIGN_OR_RETURN(
      info.intermediate_size,
      Dimension(config, {"intermediate_size", "ffn_dim", "n_inner"}, field));
  QUANTD_ASSIGN_OR_RETURN(
      info.num_layers,
      Dimension(config, {"num_hidden_layers", "num_layers", "n_layer"}, field));
  QUANTD_ASSIGN_OR_RETURN(info.vocab_size,
                          Dimension(config, {"vocab_size"}, field));
  // Not config.value(): it throws when the key holds another type.
  const auto model_type = config.find("model_type");
  if (model_type != config.end() && !model_type->is_null() &&
      !model_type->is_string()) {
    return InvalidFieldError(field,
                             "config.json \"model_type\" must be a string");
  }
  info.is_encoder = model_type != config.end() && model_type->is_string() &&
                    (*model_type == "bert" || *model_type == "roberta");
  ClassifyArchitecture(config, info);
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    if (absl::EndsWith(name, ".safetensors") || absl::EndsWith(name, ".bin")) {
      info.size_bytes += entry.file_size(error);
    }
  }
  return info;
}

// The shape fields of a GGUF header (the contract's one reader), 0 where
// the header does not say. Errors name the metadata key, never the path:
// a blob's path is the server's business.
absl::Status ReadGgufShape(const std::string& path, const std::string& field,
                           ModelInfo& info) {
  try {
    const contract::GgufHeader header = contract::ReadGgufHeader(path);
    const contract::GgufMetadata& metadata = header.metadata;
    info.format = "gguf";
    info.architecture =
        metadata.FindString("general.architecture").value_or("");
    auto dimension = [&](const std::string& key) -> absl::StatusOr<uint64_t> {
      const int64_t value = metadata.FindInt(key).value_or(0);
      if (value < 0 || static_cast<uint64_t>(value) > kMaxDimension) {
        return InvalidFieldError(
            field, absl::StrCat("GGUF metadata '", key,
                                "' must be an integer in 0..", kMaxDimension));
      }
      return static_cast<uint64_t>(value);
    };
    const std::string prefix = info.architecture + ".";
    QUANTD_ASSIGN_OR_RETURN(info.hidden_size,
                            dimension(prefix + "embedding_length"));
    QUANTD_ASSIGN_OR_RETURN(info.intermediate_size,
                            dimension(prefix + "feed_forward_length"));
    QUANTD_ASSIGN_OR_RETURN(info.num_layers, dimension(prefix + "block_count"));
    QUANTD_ASSIGN_OR_RETURN(info.vocab_size, dimension(prefix + "vocab_size"));
    if (info.vocab_size == 0 && metadata.Contains("tokenizer.ggml.tokens")) {
      info.vocab_size = metadata.GetStringArray("tokenizer.ggml.tokens").size();
    }
    return absl::OkStatus();
  } catch (const contract::FormatError& error) {
    const std::string subject =
        error.subject() == contract::FormatError::Subject::kFile
            ? "GGUF header"
            : absl::StrCat("GGUF metadata '", error.name(), "'");
    return InvalidFieldError(field,
                             absl::StrCat(subject, ": ", error.problem()));
  }
}

}  // namespace

absl::StatusOr<AllowedRoots> AllowedRoots::Create(
    const std::vector<std::string>& roots) {
  AllowedRoots allowed;
  for (const std::string& root : roots) {
    if (root.empty()) continue;
    std::optional<std::string> canonical = RealPath(root);
    if (!canonical.has_value() || !fs::is_directory(*canonical)) {
      return InvalidFieldError(
          "allowed_roots", absl::StrCat("\"", root, "\" is not a directory"));
    }
    allowed.roots_.push_back(*canonical);
  }
  return allowed;
}

absl::StatusOr<std::string> AllowedRoots::Resolve(
    const std::string& uri, const std::string& field) const {
  constexpr absl::string_view kScheme = "file://";
  if (!absl::StartsWith(uri, kScheme)) {
    return InvalidFieldError(field, "only file:// URIs are supported");
  }
  const std::string path = uri.substr(kScheme.size());
  if (path.empty() || path[0] != '/') {
    return InvalidFieldError(field, "must be file:///absolute/path");
  }
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part == "..")
      return InvalidFieldError(field, "must not contain \"..\"");
  }
  if (roots_.empty()) {
    return InvalidFieldError(field,
                             "file:// URIs are disabled (no --allowed-root)");
  }
  std::optional<std::string> canonical = RealPath(path);
  if (!canonical.has_value()) {
    return InvalidFieldError(field,
                             absl::StrCat("\"", path, "\" does not exist"));
  }
  for (const std::string& root : roots_) {
    if (IsUnder(*canonical, root)) return *canonical;
  }
  return InvalidFieldError(field, "is outside the allowed roots");
}

absl::StatusOr<ModelInfo> InspectModel(const std::string& path,
                                       const std::string& field) {
  std::error_code error;
  if (fs::is_directory(path, error)) return InspectDirectory(path, field);
  if (!fs::is_regular_file(path, error)) {
    return InvalidFieldError(field, "is neither a directory nor a file");
  }
  ModelInfo info;
  info.size_bytes = fs::file_size(path, error);
  if (!contract::LooksLikeGguf(path)) {
    info.format = "opaque";
    return info;
  }
  QUANTD_RETURN_IF_ERROR(ReadGgufShape(path, field, info));
  info.is_encoder = info.architecture == "bert";
  info.llama_family = IsLlamaFamilyType(info.architecture);
  return info;
}

}  // namespace quantd::scheduler
