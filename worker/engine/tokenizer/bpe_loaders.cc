// Builds BpeSpec from an HF tokenizer.json or from GGUF metadata.
#include <string>

#include "worker/engine/tokenizer/bpe_tokenizer.h"

namespace quantd::engine::tokenizer::internal {
namespace {

using nlohmann::json;

// tokenizer.json merges: "a b" strings (older files) or ["a", "b"] pairs.
std::vector<std::pair<std::string, std::string>> ParseJsonMerges(
    const JsonFile& file, const json& merges) {
  if (!merges.is_array()) {
    file.Fail("model.merges", "is not an array");
  }
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string field = "model.merges[" + std::to_string(i) + "]";
    const json& merge = merges[i];
    if (merge.is_array() && merge.size() == 2) {
      out.emplace_back(file.String(merge[0], field + "[0]"),
                       file.String(merge[1], field + "[1]"));
      continue;
    }
    const std::string text = file.String(merge, field);
    const size_t space = text.find(' ');
    if (space == std::string::npos || text.find(' ', space + 1) != text.npos) {
      file.Fail(field, "'" + text + "' is not two tokens separated by a space");
    }
    out.emplace_back(text.substr(0, space), text.substr(space + 1));
  }
  return out;
}

SplitBehavior ParseBehavior(const JsonFile& file, const json& node,
                            const std::string& field) {
  const std::string name = file.String(node, field);
  if (name == "Removed") {
    return SplitBehavior::kRemoved;
  }
  if (name == "Isolated") {
    return SplitBehavior::kIsolated;
  }
  if (name == "MergedWithPrevious") {
    return SplitBehavior::kMergedWithPrevious;
  }
  if (name == "MergedWithNext") {
    return SplitBehavior::kMergedWithNext;
  }
  if (name == "Contiguous") {
    return SplitBehavior::kContiguous;
  }
  file.Fail(field, "'" + name + "' is not a split behavior");
}

void AddSplitStep(const JsonFile& file, const json& node,
                  const std::string& field, PreTokenizer& out) {
  const json& pattern = file.Require(node, field, "pattern");
  const std::string pattern_field = field + ".pattern";
  const json* regex = file.Optional(pattern, "Regex");
  const json* literal = file.Optional(pattern, "String");
  if ((regex == nullptr) == (literal == nullptr)) {
    file.Fail(pattern_field, "needs exactly one of Regex and String");
  }
  const std::string text =
      file.String(regex ? *regex : *literal,
                  pattern_field + (regex ? ".Regex" : ".String"));
  out.AddSplit(Regex(text, literal != nullptr, file.source() + " " + field),
               ParseBehavior(file, file.Require(node, field, "behavior"),
                             field + ".behavior"),
               file.Bool(node, field, "invert", false));
}

// One pre-tokenizer; `last` says whether it is the final step, which a
// ByteLevel step must be (later steps would see byte-level characters).
void AddPreTokenizerStep(const JsonFile& file, const json& node,
                         const std::string& field, bool last, PreTokenizer& out,
                         bool& byte_level) {
  const std::string type =
      file.String(file.Require(node, field, "type"), field + ".type");
  if (type == "ByteLevel") {
    if (!last) {
      file.Fail(field, "ByteLevel must be the last pre-tokenizer");
    }
    out.AddByteLevel(file.Bool(node, field, "add_prefix_space", true),
                     file.Bool(node, field, "use_regex", true));
    byte_level = true;
  } else if (type == "Split") {
    AddSplitStep(file, node, field, out);
  } else if (type == "Digits") {
    const bool individual = file.Bool(node, field, "individual_digits", false);
    // Rust's char::is_numeric is exactly \p{N}.
    out.AddSplit(Regex(individual ? R"(\p{N})" : R"(\p{N}+)", false, field),
                 SplitBehavior::kIsolated, false);
  } else {
    file.Fail(field + ".type", "'" + type + "' is not supported for BPE");
  }
}

PreTokenizer ParseBpePreTokenizer(const JsonFile& file) {
  PreTokenizer out;
  bool byte_level = false;
  const json* node = file.Optional(file.root(), "pre_tokenizer");
  if (node != nullptr) {
    const std::string field = "pre_tokenizer";
    const std::string type =
        file.String(file.Require(*node, field, "type"), field + ".type");
    if (type == "Sequence") {
      const json& list = file.Require(*node, field, "pretokenizers");
      if (!list.is_array()) {
        file.Fail(field, "pretokenizers is not an array");
      }
      for (size_t i = 0; i < list.size(); ++i) {
        AddPreTokenizerStep(file, list[i],
                            field + ".pretokenizers[" + std::to_string(i) + "]",
                            i + 1 == list.size(), out, byte_level);
      }
    } else {
      AddPreTokenizerStep(file, *node, field, true, out, byte_level);
    }
  }
  if (!byte_level) {
    file.Fail("pre_tokenizer",
              "has no ByteLevel step; only byte-level BPE is supported");
  }
  return out;
}

// Model options whose non-default values we do not implement.
void CheckBpeOptions(const JsonFile& file, const json& model) {
  if (file.Bool(model, "model", "byte_fallback", false)) {
    file.Fail("model.byte_fallback", "= true is not supported");
  }
  if (file.Optional(model, "dropout") != nullptr) {
    file.Fail("model.dropout", "is set; BPE dropout is not supported");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    // transformers' own conversion writes "" for both: the default.
    const json* value = file.Optional(model, key);
    if (value != nullptr &&
        !(value->is_string() && value->get_ref<const std::string&>().empty())) {
      file.Fail(std::string("model.") + key, "is set; it is not supported");
    }
  }
}

}  // namespace

std::unique_ptr<Tokenizer> MakeBpeFromJson(const JsonFile& file,
                                           const TokenizerData& data) {
  const json& model = file.Require(file.root(), "", "model");
  CheckBpeOptions(file, model);
  if (file.Optional(file.root(), "normalizer") != nullptr) {
    file.Fail("normalizer", "is set; byte-level BPE supports only null");
  }
  BpeSpec spec;
  spec.source = file.source();
  spec.id_to_token =
      file.Vocab(file.Require(model, "model", "vocab"), "model.vocab");
  spec.merges = ParseJsonMerges(file, file.Require(model, "model", "merges"));
  spec.ignore_merges = file.Bool(model, "model", "ignore_merges", false);
  spec.added_tokens = file.AddedTokens(/*has_normalizer=*/false);
  spec.pre_tokenizer = ParseBpePreTokenizer(file);
  spec.post_processor = file.ParsePostProcessor();
  if (const json* unk = file.Optional(model, "unk_token")) {
    const std::string token = file.String(*unk, "model.unk_token");
    for (size_t id = 0; id < spec.id_to_token.size(); ++id) {
      if (spec.id_to_token[id] == token) {
        spec.special.unk = id;
      }
    }
    if (spec.special.unk < 0) {
      file.Fail("model.unk_token", "'" + token + "' is not in the vocabulary");
    }
    spec.unknown_byte_id = spec.special.unk;
  }
  OverrideSpecialIds(data, spec.special);
  return std::make_unique<BpeTokenizer>(std::move(spec));
}

namespace {

std::string GgufSource(const TokenizerData& data) {
  return data.gguf_path.empty() ? "GGUF metadata" : data.gguf_path.string();
}

// GGUF metadata problems name the file and the tokenizer.ggml.* key.
[[noreturn]] void FailGguf(const TokenizerData& data, std::string_view key,
                           std::string_view problem) {
  throw TokenizerError(GgufSource(data) + ": tokenizer.ggml." +
                       std::string(key) + " " + std::string(problem));
}

// llama.cpp splits a merge at the first space after its first byte, so a
// token may itself start with a space.
std::vector<std::pair<std::string, std::string>> ParseGgufMerges(
    const TokenizerData& data) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(data.merges.size());
  for (size_t i = 0; i < data.merges.size(); ++i) {
    const std::string& text = data.merges[i];
    const size_t space = text.find(' ', 1);
    if (space == std::string::npos || space + 1 == text.size()) {
      FailGguf(data, "merges[" + std::to_string(i) + "]",
               "'" + text + "' is not two tokens separated by a space");
    }
    out.emplace_back(text.substr(0, space), text.substr(space + 1));
  }
  return out;
}

// Control tokens (type 3) are special; user-defined ones (type 4) are
// matched in text too but are kept by Decode(..., skip_special=true).
std::vector<AddedToken> GgufAddedTokens(const TokenizerData& data) {
  constexpr int32_t kControl = 3;
  constexpr int32_t kUserDefined = 4;
  std::vector<AddedToken> out;
  for (size_t id = 0; id < data.token_types.size(); ++id) {
    const int32_t type = data.token_types[id];
    if (type != kControl && type != kUserDefined) {
      continue;
    }
    if (data.tokens[id].empty()) {
      continue;
    }
    AddedToken token;
    token.content = data.tokens[id];
    token.id = static_cast<int32_t>(id);
    token.special = type == kControl;
    out.push_back(std::move(token));
  }
  return out;
}

// "gpt2", "default" and "" all mean the GPT-2 regex here (llama.cpp's own
// "default" BPE splitting differs, but no model we serve uses it).
PreTokenizer GgufPreTokenizer(const TokenizerData& data) {
  PreTokenizer out;
  if (data.pre == "smollm") {
    // SmolLM2's tokenizer.json: Digits(individual_digits) then ByteLevel.
    out.AddSplit(Regex(R"(\p{N})", false, "smollm digits"),
                 SplitBehavior::kIsolated, false);
  } else if (!data.pre.empty() && data.pre != "gpt2" && data.pre != "default") {
    FailGguf(data, "pre",
             "'" + data.pre + "' is not supported (gpt2, default, smollm)");
  }
  out.AddByteLevel(/*add_prefix_space=*/false, /*use_regex=*/true);
  return out;
}

}  // namespace

std::unique_ptr<Tokenizer> MakeBpeFromGguf(const TokenizerData& data) {
  if (data.model != "gpt2") {
    FailGguf(data, "model", "'" + data.model + "' is not supported (gpt2)");
  }
  if (data.tokens.empty()) {
    FailGguf(data, "tokens", "is empty");
  }
  if (!data.token_types.empty() &&
      data.token_types.size() != data.tokens.size()) {
    FailGguf(data, "token_type",
             "has " + std::to_string(data.token_types.size()) +
                 " entries for " + std::to_string(data.tokens.size()) +
                 " tokens");
  }
  BpeSpec spec;
  spec.source = GgufSource(data);
  spec.id_to_token = data.tokens;
  spec.merges = ParseGgufMerges(data);
  spec.added_tokens = GgufAddedTokens(data);
  spec.pre_tokenizer = GgufPreTokenizer(data);
  OverrideSpecialIds(data, spec.special);
  if (data.add_bos) {
    if (spec.special.bos < 0) {
      FailGguf(data, "add_bos_token", "without bos");
    }
    spec.post_processor.prefix.push_back(spec.special.bos);
  }
  if (data.add_eos) {
    if (spec.special.eos < 0) {
      FailGguf(data, "add_eos_token", "without eos");
    }
    spec.post_processor.suffix.push_back(spec.special.eos);
  }
  return std::make_unique<BpeTokenizer>(std::move(spec));
}

}  // namespace quantd::engine::tokenizer::internal
