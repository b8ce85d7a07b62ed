#include "worker/engine/io/hf_config.h"

#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "contract/mapped_file.h"
#include "worker/engine/io/format_error.h"
#include "worker/engine/io/json_util.h"

namespace quantd::engine::io {
namespace {

using nlohmann::json;

// Generous sanity bounds: they reject garbage (negative, absurd sizes),
// never a real model.
constexpr int64_t kMaxVocab = int64_t{1} << 24;
constexpr int64_t kMaxDimension = int64_t{1} << 20;
constexpr int64_t kMaxLayers = 4096;
constexpr int64_t kMaxPositions = int64_t{1} << 24;

// Typed, range-checked access to config.json keys; JSON null counts as
// absent, as transformers writes unset options as null.
class Fields {
 public:
  Fields(const json& root, const std::filesystem::path& file)
      : root_(root), file_(file) {}

  [[noreturn]] void Fail(std::string_view key, std::string problem) const {
    throw FormatError::ForField(file_, std::string(key), std::move(problem));
  }

  const json* Find(std::string_view key) const {
    auto it = root_.find(key);
    return it == root_.end() || it->is_null() ? nullptr : &*it;
  }

  int64_t Int(std::string_view key, int64_t min, int64_t max) const {
    const json* value = Find(key);
    if (value == nullptr) Fail(key, "missing");
    return CheckInt(key, *value, min, max);
  }

  int64_t IntOr(std::string_view key, int64_t fallback, int64_t min,
                int64_t max) const {
    const json* value = Find(key);
    return value == nullptr ? fallback : CheckInt(key, *value, min, max);
  }

  double FloatOr(std::string_view key, double fallback, double above,
                 double max) const {
    const json* value = Find(key);
    if (value == nullptr) return fallback;
    if (!value->is_number()) WrongType(key, *value, "number");
    const double number = value->get<double>();
    if (!(number > above && number <= max)) {
      Fail(key, "out of range: " + value->dump() + " (must be in (" +
                    json(above).dump() + ", " + json(max).dump() + "])");
    }
    return number;
  }

  bool BoolOr(std::string_view key, bool fallback) const {
    const json* value = Find(key);
    if (value == nullptr) return fallback;
    if (!value->is_boolean()) WrongType(key, *value, "boolean");
    return value->get<bool>();
  }

  std::string StringOr(std::string_view key, std::string fallback) const {
    const json* value = Find(key);
    if (value == nullptr) return fallback;
    if (!value->is_string()) WrongType(key, *value, "string");
    return value->get<std::string>();
  }

  // A special token id: absent/null -> -1; a list (several EOS ids) -> its
  // first element.
  int64_t TokenId(std::string_view key, int64_t vocab_size) const {
    const json* value = Find(key);
    if (value == nullptr) return -1;
    if (value->is_array()) {
      if (value->empty()) return -1;
      return CheckInt(key, value->front(), 0, vocab_size - 1);
    }
    return CheckInt(key, *value, 0, vocab_size - 1);
  }

 private:
  [[noreturn]] void WrongType(std::string_view key, const json& value,
                              const char* expected) const {
    Fail(key, std::string("wrong type: expected ") + expected + ", got " +
                  internal::JsonTypeName(value));
  }

  int64_t CheckInt(std::string_view key, const json& value, int64_t min,
                   int64_t max) const {
    if (!value.is_number_integer()) WrongType(key, value, "integer");
    const bool fits = !value.is_number_unsigned() ||
                      value.get<uint64_t>() <= static_cast<uint64_t>(max);
    const int64_t number = fits ? value.get<int64_t>() : 0;
    if (!fits || number < min || number > max) {
      Fail(key, "out of range: " + value.dump() + " (must be in [" +
                    std::to_string(min) + ", " + std::to_string(max) + "])");
    }
    return number;
  }

  const json& root_;
  std::filesystem::path file_;
};

// The fields every architecture shares; head_dim from hidden_size unless
// the config gives it.
void ParseCommon(const Fields& f, const char* intermediate_key,
                 ModelConfig& c) {
  c.vocab_size = f.Int("vocab_size", 1, kMaxVocab);
  c.hidden_size = f.Int("hidden_size", 1, kMaxDimension);
  c.intermediate_size = f.Int(intermediate_key, 1, kMaxDimension);
  c.num_layers = f.Int("num_hidden_layers", 1, kMaxLayers);
  c.num_heads = f.Int("num_attention_heads", 1, c.hidden_size);
  c.num_kv_heads = c.num_heads;
  c.head_dim = f.IntOr("head_dim", 0, 1, kMaxDimension);
  if (c.head_dim == 0) {
    if (c.hidden_size % c.num_heads != 0) {
      f.Fail("num_attention_heads", std::to_string(c.num_heads) +
                                        " does not divide hidden_size " +
                                        std::to_string(c.hidden_size));
    }
    c.head_dim = c.hidden_size / c.num_heads;
  }
  c.bos_token_id = f.TokenId("bos_token_id", c.vocab_size);
  c.eos_token_id = f.TokenId("eos_token_id", c.vocab_size);
  c.pad_token_id = f.TokenId("pad_token_id", c.vocab_size);
}

// Only plain RoPE is implemented: scaled variants change every position.
void CheckRopeType(const Fields& f, std::string_view key, const json& rope) {
  if (!rope.is_object()) f.Fail(key, "wrong type: expected object");
  for (const char* type_key : {"rope_type", "type"}) {
    auto it = rope.find(type_key);
    if (it != rope.end() && *it != "default") {
      f.Fail(key,
             "rope type " + it->dump() + " is not supported (only default)");
    }
  }
}

double RopeTheta(const Fields& f) {
  if (const json* parameters = f.Find("rope_parameters")) {
    CheckRopeType(f, "rope_parameters", *parameters);
    auto theta = parameters->find("rope_theta");
    if (theta != parameters->end() && !theta->is_null()) {
      if (!theta->is_number() || !(theta->get<double>() > 0)) {
        f.Fail("rope_parameters.rope_theta",
               "expected a positive number, got " + theta->dump());
      }
      return theta->get<double>();
    }
  }
  if (const json* scaling = f.Find("rope_scaling")) {
    CheckRopeType(f, "rope_scaling", *scaling);
  }
  return f.FloatOr("rope_theta", 10000.0, 0, 1e12);
}

void ParseLlama(const Fields& f, ModelConfig& c) {
  ParseCommon(f, "intermediate_size", c);
  c.num_kv_heads = f.IntOr("num_key_value_heads", c.num_heads, 1, c.num_heads);
  if (c.num_heads % c.num_kv_heads != 0) {
    f.Fail("num_key_value_heads", std::to_string(c.num_kv_heads) +
                                      " does not divide num_attention_heads " +
                                      std::to_string(c.num_heads));
  }
  c.max_position_embeddings =
      f.IntOr("max_position_embeddings", 2048, 1, kMaxPositions);
  c.norm_eps = f.FloatOr("rms_norm_eps", 1e-6, 0.0, 1.0);
  c.rope_theta = RopeTheta(f);
  c.tie_word_embeddings = f.BoolOr("tie_word_embeddings", false);
  c.hidden_act = f.StringOr("hidden_act", "silu");
  if (c.hidden_act != "silu") {
    f.Fail("hidden_act", "activation '" + c.hidden_act +
                             "' is not supported for " + c.model_type +
                             " (only silu)");
  }
  if (f.BoolOr("mlp_bias", false)) f.Fail("mlp_bias", "true is not supported");
  c.attention_bias =
      c.model_type == "qwen2" || f.BoolOr("attention_bias", false);
  if (c.model_type == "qwen2" && f.BoolOr("use_sliding_window", false)) {
    f.Fail("use_sliding_window",
           "sliding-window attention is not supported "
           "for qwen2");
  }
  if (c.model_type == "mistral") {
    c.sliding_window = f.IntOr("sliding_window", 0, 1, kMaxPositions);
  }
  c.enable_bias = c.attention_bias;
}

void ParseOpt(const Fields& f, ModelConfig& c) {
  ParseCommon(f, "ffn_dim", c);
  c.max_position_embeddings =
      f.IntOr("max_position_embeddings", 2048, 1, kMaxPositions);
  c.norm_eps = 1e-5;  // OPT's LayerNorms use the PyTorch default.
  c.do_layer_norm_before = f.BoolOr("do_layer_norm_before", true);
  c.word_embed_proj_dim =
      f.IntOr("word_embed_proj_dim", c.hidden_size, 1, kMaxDimension);
  c.enable_bias = f.BoolOr("enable_bias", true);
  if (!f.BoolOr("layer_norm_elementwise_affine", true)) {
    f.Fail("layer_norm_elementwise_affine", "false is not supported");
  }
  c.hidden_act = f.StringOr("activation_function", "relu");
  if (c.hidden_act != "relu" && c.hidden_act != "gelu") {
    f.Fail("activation_function",
           "activation '" + c.hidden_act + "' is not supported (relu or gelu)");
  }
  c.tie_word_embeddings = f.BoolOr("tie_word_embeddings", true);
}

void ParseBert(const Fields& f, ModelConfig& c) {
  ParseCommon(f, "intermediate_size", c);
  c.max_position_embeddings =
      f.IntOr("max_position_embeddings", 512, 1, kMaxPositions);
  c.type_vocab_size = f.IntOr("type_vocab_size", 2, 0, kMaxVocab);
  c.norm_eps = f.FloatOr("layer_norm_eps", 1e-12, 0.0, 1.0);
  c.hidden_act = f.StringOr("hidden_act", "gelu");
  if (c.hidden_act != "gelu" && c.hidden_act != "relu") {
    f.Fail("hidden_act", "activation '" + c.hidden_act +
                             "' is not supported for bert (gelu or relu)");
  }
  const std::string positions =
      f.StringOr("position_embedding_type", "absolute");
  if (positions != "absolute") {
    f.Fail("position_embedding_type",
           "'" + positions + "' is not supported (only absolute)");
  }
  if (c.pad_token_id < 0) c.pad_token_id = 0;
}

struct KnownType {
  std::string_view model_type;
  std::string_view architecture_prefix;  // Of the "architectures" class.
  Architecture architecture;
};

constexpr std::array<KnownType, 5> kKnownTypes = {{
    {"llama", "Llama", Architecture::kLlama},
    {"mistral", "Mistral", Architecture::kLlama},
    {"qwen2", "Qwen2", Architecture::kLlama},
    {"opt", "OPT", Architecture::kOpt},
    {"bert", "Bert", Architecture::kBert},
}};

// model_type, or failing that the first "architectures" class name.
const KnownType& DetectType(const Fields& f) {
  if (f.Find("model_type") != nullptr) {
    const std::string model_type = f.StringOr("model_type", "");
    for (const KnownType& known : kKnownTypes) {
      if (known.model_type == model_type) return known;
    }
    f.Fail("model_type", "unknown model_type '" + model_type +
                             "' (supported: llama, mistral, qwen2, opt, bert)");
  }
  const json* architectures = f.Find("architectures");
  if (architectures == nullptr) {
    f.Fail("model_type", "missing (and no architectures to infer it from)");
  }
  if (!architectures->is_array() || architectures->empty() ||
      !architectures->front().is_string()) {
    f.Fail("architectures", "wrong type: expected a list of class names");
  }
  const auto name = architectures->front().get<std::string>();
  for (const KnownType& known : kKnownTypes) {
    if (name.starts_with(known.architecture_prefix)) return known;
  }
  f.Fail("architectures", "unknown architecture '" + name + "'");
}

}  // namespace

ModelConfig ParseHfConfig(std::string_view json_text,
                          const std::filesystem::path& file) {
  internal::StrictJson parsed =
      internal::ParseJsonStrict(json_text, file, "config");
  if (!parsed.value.is_object()) {
    throw FormatError::ForFile(file, "config is not a JSON object");
  }
  if (parsed.duplicate) {
    throw FormatError::ForField(file, parsed.duplicate->key, "duplicate key");
  }
  const Fields fields(parsed.value, file);
  const KnownType& type = DetectType(fields);
  ModelConfig config;
  config.architecture = type.architecture;
  config.model_type = std::string(type.model_type);
  switch (type.architecture) {
    case Architecture::kLlama:
      ParseLlama(fields, config);
      break;
    case Architecture::kOpt:
      ParseOpt(fields, config);
      break;
    case Architecture::kBert:
      ParseBert(fields, config);
      break;
  }
  return config;
}

ModelConfig LoadHfConfig(const std::filesystem::path& config_json) {
  const contract::MappedFile file(config_json);
  const auto* text = reinterpret_cast<const char*>(file.data().data());
  return ParseHfConfig(std::string_view(text, file.data().size()), config_json);
}

}  // namespace quantd::engine::io
