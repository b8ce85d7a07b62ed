#include "worker/engine/export/tokenizer_files.h"

#include <array>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "worker/engine/export/atomic_file.h"
#include "worker/engine/export/export_error.h"
#include "worker/engine/io/format_error.h"
#include "worker/engine/io/gguf_config.h"
#include "worker/engine/io/gguf_file.h"

namespace quantd::engine::exporting {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// tokenizer.ggml.token_type values that become added tokens.
constexpr int32_t kControl = 3;
constexpr int32_t kUserDefined = 4;

enum class SourceKind { kNone, kHfDirectory, kGguf };

SourceKind KindOf(const fs::path& source) {
  std::error_code error;
  if (fs::is_directory(source, error)) {
    return SourceKind::kHfDirectory;
  }
  if (!fs::is_regular_file(source, error)) {
    return SourceKind::kNone;
  }
  std::ifstream file(source, std::ios::binary);
  std::array<char, 4> magic{};
  file.read(magic.data(), magic.size());
  return file && std::string_view(magic.data(), magic.size()) == "GGUF"
             ? SourceKind::kGguf
             : SourceKind::kNone;
}

// A GGUF tokenizer, checked to be exportable.
struct GgufTokenizer {
  std::string source;  // The file, for messages.
  tokenizer::TokenizerData data;
  // tokenizer.ggml.merges split as llama.cpp and the engine split them.
  std::vector<std::pair<std::string, std::string>> merges;
  std::optional<std::string> chat_template;
  std::optional<int64_t> context_length;
};

[[noreturn]] void Fail(const std::string& source, std::string_view key,
                       std::string_view problem) {
  throw ExportError(source + ": cannot export the tokenizer: " +
                    std::string(key) + " " + std::string(problem));
}

// nlohmann::json refuses to write invalid UTF-8; say which entry holds it.
void CheckUtf8(const std::string& source, std::string_view key,
               const std::string& text) {
  try {
    (void)json(text).dump();
  } catch (const json::exception&) {
    Fail(source, key, "is not valid UTF-8");
  }
}

void CheckKinds(const GgufTokenizer& g) {
  const tokenizer::TokenizerData& d = g.data;
  if (d.model != "gpt2") {
    Fail(g.source, "tokenizer.ggml.model",
         "'" + d.model + "' is not supported (only 'gpt2', byte-level BPE)");
  }
  if (!d.pre.empty() && d.pre != "default" && d.pre != "gpt2" &&
      d.pre != "smollm") {
    Fail(g.source, "tokenizer.ggml.pre",
         "'" + d.pre + "' is not supported (gpt2, default, smollm)");
  }
  if (d.add_bos && d.bos_id < 0) {
    Fail(g.source, "tokenizer.ggml.add_bos_token",
         "is true but tokenizer.ggml.bos_token_id is missing");
  }
  if (d.add_eos && d.eos_id < 0) {
    Fail(g.source, "tokenizer.ggml.add_eos_token",
         "is true but tokenizer.ggml.eos_token_id is missing");
  }
}

// Token strings are the keys of tokenizer.json's vocab: unique, UTF-8.
std::unordered_map<std::string_view, size_t> CheckTokens(
    const GgufTokenizer& g) {
  std::unordered_map<std::string_view, size_t> ids;
  const std::vector<std::string>& tokens = g.data.tokens;
  for (size_t id = 0; id < tokens.size(); ++id) {
    const std::string key = "tokenizer.ggml.tokens[" + std::to_string(id) + "]";
    CheckUtf8(g.source, key, tokens[id]);
    auto [it, inserted] = ids.emplace(tokens[id], id);
    if (!inserted) {
      Fail(g.source, key,
           "'" + tokens[id] + "' repeats id " + std::to_string(it->second));
    }
  }
  return ids;
}

// llama.cpp splits a merge at the first space after its first byte (a
// token may start with a space); both parts and their concatenation must
// be tokens, or HF tokenizers refuses the file.
std::vector<std::pair<std::string, std::string>> SplitMerges(
    const GgufTokenizer& g,
    const std::unordered_map<std::string_view, size_t>& ids) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(g.data.merges.size());
  for (size_t i = 0; i < g.data.merges.size(); ++i) {
    const std::string& text = g.data.merges[i];
    const std::string key = "tokenizer.ggml.merges[" + std::to_string(i) + "]";
    const size_t space = text.find(' ', 1);
    if (space == std::string::npos || space + 1 == text.size()) {
      Fail(g.source, key, "is not two tokens separated by a space");
    }
    std::string left = text.substr(0, space);
    std::string right = text.substr(space + 1);
    if (!ids.contains(left) || !ids.contains(right) ||
        !ids.contains(left + right)) {
      Fail(g.source, key, "names a token outside the vocabulary");
    }
    out.emplace_back(std::move(left), std::move(right));
  }
  return out;
}

GgufTokenizer ReadGgufTokenizer(const fs::path& path) {
  GgufTokenizer g;
  g.source = path.string();
  try {
    const io::GgufFile file(path);
    const io::GgufMetadata& metadata = file.metadata();
    if (!metadata.Contains("tokenizer.ggml.model")) {
      Fail(g.source, "tokenizer.ggml.model", "is missing (no tokenizer)");
    }
    g.data = io::TokenizerFromGguf(file);
    g.chat_template = metadata.FindString("tokenizer.chat_template");
    if (auto arch = metadata.FindString("general.architecture")) {
      g.context_length = metadata.FindInt(*arch + ".context_length");
    }
  } catch (const io::FormatError& error) {
    throw ExportError(std::string("cannot export the tokenizer: ") +
                      error.what());
  }
  CheckKinds(g);
  if (g.chat_template) {
    CheckUtf8(g.source, "tokenizer.chat_template", *g.chat_template);
  }
  g.merges = SplitMerges(g, CheckTokens(g));
  return g;
}

const std::string& Token(const GgufTokenizer& g, int64_t id) {
  return g.data.tokens[static_cast<size_t>(id)];
}

// The engine's GgufPreTokenizer (tokenizer/bpe_loaders.cc) in HF terms:
// "smollm" isolates every numeric character (SmolLM2's own
// Digits(individual_digits) step, which the engine implements as \p{N});
// gpt2/default/"" are GPT-2's ByteLevel regex alone.
json PreTokenizer(const GgufTokenizer& g) {
  json byte_level = {{"type", "ByteLevel"},
                     {"add_prefix_space", false},
                     {"trim_offsets", true},
                     {"use_regex", true}};
  if (g.data.pre != "smollm") {
    return byte_level;
  }
  return {{"type", "Sequence"},
          {"pretokenizers",
           json::array({{{"type", "Digits"}, {"individual_digits", true}},
                        byte_level})}};
}

// ByteLevel (offsets only), plus BOS/EOS where the metadata adds them.
json PostProcessor(const GgufTokenizer& g) {
  json byte_level = {{"type", "ByteLevel"},
                     {"add_prefix_space", false},
                     {"trim_offsets", false},
                     {"use_regex", true}};
  if (!g.data.add_bos && !g.data.add_eos) {
    return byte_level;
  }
  json special_tokens = json::object();
  const auto special = [&](int64_t id, int type_id) {
    const std::string& token = Token(g, id);
    special_tokens[token] = {{"id", token},
                             {"ids", json::array({id})},
                             {"tokens", json::array({token})}};
    return json{{"SpecialToken", {{"id", token}, {"type_id", type_id}}}};
  };
  const auto sequence = [](const char* name, int type_id) {
    return json{{"Sequence", {{"id", name}, {"type_id", type_id}}}};
  };
  json single = json::array();
  json pair = json::array();
  for (int part = 0; part < 2; ++part) {
    json& out = part == 0 ? single : pair;
    for (int type_id = 0; type_id <= part; ++type_id) {
      if (g.data.add_bos) out.push_back(special(g.data.bos_id, type_id));
      out.push_back(sequence(type_id == 0 ? "A" : "B", type_id));
      if (g.data.add_eos) out.push_back(special(g.data.eos_id, type_id));
    }
  }
  return {{"type", "Sequence"},
          {"processors", json::array({byte_level,
                                      {{"type", "TemplateProcessing"},
                                       {"single", single},
                                       {"pair", pair},
                                       {"special_tokens", special_tokens}}})}};
}

// Control tokens are special (skipped by decode(skip_special_tokens));
// user-defined ones are matched in text but kept, as in the engine.
json AddedTokens(const GgufTokenizer& g) {
  json out = json::array();
  const std::vector<int32_t>& types = g.data.token_types;
  for (size_t id = 0; id < types.size(); ++id) {
    if ((types[id] != kControl && types[id] != kUserDefined) ||
        g.data.tokens[id].empty()) {
      continue;
    }
    out.push_back({{"id", id},
                   {"content", g.data.tokens[id]},
                   {"single_word", false},
                   {"lstrip", false},
                   {"rstrip", false},
                   {"normalized", false},
                   {"special", types[id] == kControl}});
  }
  return out;
}

json BpeModel(const GgufTokenizer& g) {
  json vocab = json::object();
  for (size_t id = 0; id < g.data.tokens.size(); ++id) {
    vocab[g.data.tokens[id]] = id;
  }
  json merges = json::array();
  for (const auto& [left, right] : g.merges) {
    merges.push_back(json::array({left, right}));
  }
  return {{"type", "BPE"},
          {"dropout", nullptr},
          {"unk_token", nullptr},
          {"continuing_subword_prefix", nullptr},
          {"end_of_word_suffix", nullptr},
          {"fuse_unk", false},
          {"byte_fallback", false},
          {"ignore_merges", false},
          {"vocab", std::move(vocab)},
          {"merges", std::move(merges)}};
}

// Compact: the vocabulary and merges make up nearly all of it.
std::string TokenizerJson(const GgufTokenizer& g) {
  const json root = {{"version", "1.0"},
                     {"truncation", nullptr},
                     {"padding", nullptr},
                     {"added_tokens", AddedTokens(g)},
                     {"normalizer", nullptr},
                     {"pre_tokenizer", PreTokenizer(g)},
                     {"post_processor", PostProcessor(g)},
                     {"decoder",
                      {{"type", "ByteLevel"},
                       {"add_prefix_space", true},
                       {"trim_offsets", true},
                       {"use_regex", true}}},
                     {"model", BpeModel(g)}};
  return root.dump() + "\n";
}

// bos_token, eos_token, unk_token, pad_token as strings, where present.
json SpecialTokens(const GgufTokenizer& g) {
  json out = json::object();
  const std::pair<const char*, int64_t> ids[] = {{"bos_token", g.data.bos_id},
                                                 {"eos_token", g.data.eos_id},
                                                 {"unk_token", g.data.unk_id},
                                                 {"pad_token", g.data.pad_id}};
  for (const auto& [name, id] : ids) {
    if (id >= 0) out[name] = Token(g, id);
  }
  return out;
}

// transformers 5's GPT2Tokenizer rebuilds the GPT-2 pre-tokenizer and
// drops tokenizer.json's (e.g. SmolLM2's digit split); the generic
// PreTrainedTokenizerFast keeps tokenizer.json as it is. BOS/EOS come from
// tokenizer.json's post-processor; add_*_token only record them.
std::string TokenizerConfigJson(const GgufTokenizer& g) {
  json config = SpecialTokens(g);
  config["tokenizer_class"] = "PreTrainedTokenizerFast";
  config["add_bos_token"] = g.data.add_bos;
  config["add_eos_token"] = g.data.add_eos;
  config["clean_up_tokenization_spaces"] = false;
  if (g.chat_template) config["chat_template"] = *g.chat_template;
  if (g.context_length && *g.context_length > 0) {
    config["model_max_length"] = *g.context_length;
  }
  return config.dump(2) + "\n";
}

std::string GenerationConfigJson(const GgufTokenizer& g) {
  json config = json::object();
  if (g.data.bos_id >= 0) config["bos_token_id"] = g.data.bos_id;
  if (g.data.eos_id >= 0) config["eos_token_id"] = g.data.eos_id;
  if (g.data.pad_id >= 0) config["pad_token_id"] = g.data.pad_id;
  return config.dump(2) + "\n";
}

// The files of a GGUF source, name and text, in writing order.
std::vector<std::pair<std::string, std::string>> GgufTokenizerFiles(
    const fs::path& source) {
  const GgufTokenizer g = ReadGgufTokenizer(source);
  return {{"tokenizer.json", TokenizerJson(g)},
          {"tokenizer_config.json", TokenizerConfigJson(g)},
          {"special_tokens_map.json", SpecialTokens(g).dump(2) + "\n"},
          {"generation_config.json", GenerationConfigJson(g)}};
}

}  // namespace

void CheckTokenizerExportable(const fs::path& source) {
  if (KindOf(source) == SourceKind::kGguf) {
    (void)ReadGgufTokenizer(source);
  }
}

std::vector<ShardFile> WriteTokenizerFiles(const fs::path& source,
                                           const fs::path& dir) {
  std::vector<ShardFile> files;
  switch (KindOf(source)) {
    case SourceKind::kHfDirectory:
      for (const char* name : kTokenizerFiles) {
        std::error_code error;
        if (fs::is_regular_file(source / name, error)) {
          files.push_back(
              {name, CopyFileAtomically(source / name, dir / name)});
        }
      }
      break;
    case SourceKind::kGguf:
      for (auto& [name, text] : GgufTokenizerFiles(source)) {
        files.push_back({name, WriteFileAtomically(dir / name, text)});
      }
      break;
    case SourceKind::kNone:
      break;
  }
  return files;
}

}  // namespace quantd::engine::exporting
