#include "worker/engine/export/hf_config_writer.h"

#include <fstream>
#include <sstream>

#include "worker/engine/export/export_error.h"

namespace quantd::engine::exporting {
namespace {

bool IsHfDirectory(const std::filesystem::path& source) {
  std::error_code error;
  return std::filesystem::is_directory(source, error) &&
         std::filesystem::is_regular_file(source / "config.json", error);
}

// A token id, or null when the model has none (-1).
nlohmann::json TokenId(int64_t id) {
  return id < 0 ? nlohmann::json(nullptr) : nlohmann::json(id);
}

const char* ClassName(const std::string& model_type) {
  if (model_type == "mistral") return "MistralForCausalLM";
  if (model_type == "qwen2") return "Qwen2ForCausalLM";
  return "LlamaForCausalLM";
}

// The fields only one member of the family has.
nlohmann::json ModelTypeFields(const std::string& model_type,
                               const io::ModelConfig& config) {
  nlohmann::json json = nlohmann::json::object();
  if (model_type == "llama") {
    json["attention_bias"] = config.attention_bias;
    json["mlp_bias"] = false;
    json["pretraining_tp"] = 1;
  } else {
    json["sliding_window"] = config.sliding_window > 0
                                 ? nlohmann::json(config.sliding_window)
                                 : nlohmann::json(nullptr);
    if (model_type == "qwen2") {
      json["use_sliding_window"] = config.sliding_window > 0;
    }
  }
  return json;
}

}  // namespace

nlohmann::json LlamaFamilyConfigJson(const io::ModelConfig& config) {
  if (config.architecture != io::Architecture::kLlama) {
    throw ExportError(
        std::string("config.json: cannot describe a ") +
        io::ArchitectureName(config.architecture) +
        " model without its original config.json (only LLaMA-family models "
        "are read from GGUF)");
  }
  const std::string model_type =
      config.model_type == "mistral" || config.model_type == "qwen2"
          ? config.model_type
          : std::string("llama");
  nlohmann::json json = {
      {"architectures", {ClassName(model_type)}},
      {"model_type", model_type},
      {"vocab_size", config.vocab_size},
      {"hidden_size", config.hidden_size},
      {"intermediate_size", config.intermediate_size},
      {"num_hidden_layers", config.num_layers},
      {"num_attention_heads", config.num_heads},
      {"num_key_value_heads", config.num_kv_heads},
      {"head_dim", config.head_dim},
      {"hidden_act", config.hidden_act.empty() ? "silu" : config.hidden_act},
      {"max_position_embeddings", config.max_position_embeddings},
      {"rms_norm_eps", config.norm_eps},
      {"rope_theta", config.rope_theta},
      {"rope_parameters",
       {{"rope_type", "default"}, {"rope_theta", config.rope_theta}}},
      {"tie_word_embeddings", config.tie_word_embeddings},
      {"bos_token_id", TokenId(config.bos_token_id)},
      {"eos_token_id", TokenId(config.eos_token_id)},
      {"pad_token_id", TokenId(config.pad_token_id)},
      {"attention_dropout", 0.0},
      {"initializer_range", 0.02},
      {"use_cache", true},
      {"torch_dtype", "float32"}};
  json.update(ModelTypeFields(model_type, config));
  return json;
}

void CheckConfigExportable(const io::ModelConfig& config,
                           const std::filesystem::path& source) {
  if (!IsHfDirectory(source)) (void)LlamaFamilyConfigJson(config);
}

nlohmann::ordered_json ExportConfigJson(const io::ModelConfig& config,
                                        const std::filesystem::path& source,
                                        bool holds_head) {
  // ordered_json keeps the original key order.
  nlohmann::ordered_json json;
  if (!IsHfDirectory(source)) {
    json = nlohmann::ordered_json::parse(LlamaFamilyConfigJson(config).dump());
  } else {
    const std::filesystem::path original = source / "config.json";
    std::ifstream file(original, std::ios::binary);
    if (!file) throw ExportError(original.string() + ": cannot read");
    std::stringstream text;
    text << file.rdbuf();
    json = nlohmann::ordered_json::parse(text.str(), nullptr,
                                         /*allow_exceptions=*/false);
    if (!json.is_object()) {
      throw ExportError(original.string() + ": not a JSON object");
    }
    json["torch_dtype"] = "float32";
    if (json.contains("dtype")) json["dtype"] = "float32";
  }
  if (holds_head && config.tie_word_embeddings) {
    json["tie_word_embeddings"] = false;
  }
  return json;
}

}  // namespace quantd::engine::exporting
