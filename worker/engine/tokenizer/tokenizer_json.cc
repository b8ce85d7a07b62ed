#include "worker/engine/tokenizer/tokenizer_json.h"

#include <cstdint>
#include <fstream>
#include <sstream>

#include "worker/engine/tokenizer/tokenizer.h"

namespace quantd::engine::tokenizer::internal {

using nlohmann::json;

JsonFile JsonFile::Load(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw TokenizerError(path.string() + ": cannot open tokenizer file");
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    throw TokenizerError(path.string() + ": read failed");
  }
  json root;
  try {
    root = json::parse(text.str());
  } catch (const json::parse_error& e) {
    throw TokenizerError(path.string() + ": invalid JSON: " + e.what());
  }
  if (!root.is_object()) {
    throw TokenizerError(path.string() + ": top level is not a JSON object");
  }
  return JsonFile(std::move(root), path.string());
}

void JsonFile::Fail(std::string_view field, std::string_view problem) const {
  throw TokenizerError(source_ + ": field '" + std::string(field) + "' " +
                       std::string(problem));
}

const json& JsonFile::Require(const json& object, std::string_view field,
                              std::string_view key) const {
  const std::string path = field.empty()
                               ? std::string(key)
                               : std::string(field) + "." + std::string(key);
  if (!object.is_object()) {
    Fail(field, "is not an object");
  }
  auto it = object.find(key);
  if (it == object.end()) {
    Fail(path, "is missing");
  }
  return *it;
}

const json* JsonFile::Optional(const json& object, std::string_view key) const {
  if (!object.is_object()) {
    return nullptr;
  }
  auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

std::string JsonFile::String(const json& node, std::string_view field) const {
  if (!node.is_string()) {
    Fail(field, "is not a string");
  }
  return node.get<std::string>();
}

bool JsonFile::Bool(const json& object, std::string_view field,
                    std::string_view key, bool fallback) const {
  const json* node = Optional(object, key);
  if (node == nullptr) {
    return fallback;
  }
  if (!node->is_boolean()) {
    Fail(std::string(field) + "." + std::string(key), "is not a boolean");
  }
  return node->get<bool>();
}

int32_t JsonFile::Id(const json& node, std::string_view field) const {
  if (!node.is_number_integer()) {
    Fail(field, "is not an integer");
  }
  const auto value = node.get<int64_t>();
  // Ids index tables, so keep them well inside int32 (and memory).
  if (value < 0 || value >= (int64_t{1} << 24)) {
    Fail(field, "is out of range: " + std::to_string(value));
  }
  return static_cast<int32_t>(value);
}

std::vector<std::string> JsonFile::Vocab(const json& vocab,
                                         std::string_view field) const {
  if (!vocab.is_object()) {
    Fail(field, "is not an object");
  }
  if (vocab.empty()) {
    Fail(field, "is empty");
  }
  std::vector<std::string> id_to_token;
  for (const auto& [token, id_node] : vocab.items()) {
    const int32_t id = Id(id_node, std::string(field) + "." + token);
    if (token.empty()) {
      Fail(field, "has an empty token");
    }
    if (static_cast<size_t>(id) >= id_to_token.size()) {
      id_to_token.resize(id + 1);
    }
    if (!id_to_token[id].empty()) {
      Fail(field, "maps both '" + id_to_token[id] + "' and '" + token +
                      "' to id " + std::to_string(id));
    }
    id_to_token[id] = token;
  }
  return id_to_token;
}

std::vector<AddedToken> JsonFile::AddedTokens(bool has_normalizer) const {
  std::vector<AddedToken> tokens;
  const json* list = Optional(root_, "added_tokens");
  if (list == nullptr) {
    return tokens;
  }
  if (!list->is_array()) {
    Fail("added_tokens", "is not an array");
  }
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string field = "added_tokens[" + std::to_string(i) + "]";
    const json& node = (*list)[i];
    AddedToken token;
    token.id = Id(Require(node, field, "id"), field + ".id");
    token.content = String(Require(node, field, "content"), field + ".content");
    if (token.content.empty()) {
      Fail(field + ".content", "is empty");
    }
    token.special = Bool(node, field, "special", false);
    token.lstrip = Bool(node, field, "lstrip", false);
    token.rstrip = Bool(node, field, "rstrip", false);
    if (Bool(node, field, "single_word", false)) {
      Fail(field + ".single_word", "= true is not supported");
    }
    if (has_normalizer && Bool(node, field, "normalized", !token.special)) {
      Fail(field + ".normalized",
           "= true is not supported with a normalizer (only tokens matched "
           "on the raw text are)");
    }
    tokens.push_back(std::move(token));
  }
  return tokens;
}

PostProcessor JsonFile::ParsePostProcessor() const {
  PostProcessor out;
  if (const json* node = Optional(root_, "post_processor")) {
    AppendPostProcessor(*node, "post_processor", out);
  }
  return out;
}

void JsonFile::AppendPostProcessor(const json& node, const std::string& field,
                                   PostProcessor& out) const {
  const std::string type =
      String(Require(node, field, "type"), field + ".type");
  if (type == "ByteLevel") {
    return;  // Offsets only; ids are unchanged.
  }
  if (type == "TemplateProcessing") {
    AppendTemplate(node, field, out);
  } else if (type == "BertProcessing" || type == "RobertaProcessing") {
    // "cls": [token, id], "sep": [token, id].
    for (const char* key : {"cls", "sep"}) {
      const std::string path = field + "." + key;
      const json& pair = Require(node, field, key);
      if (!pair.is_array() || pair.size() != 2) {
        Fail(path, "is not a pair");
      }
      const int32_t id = Id(pair[1], path + "[1]");
      (std::string_view(key) == "cls" ? out.prefix : out.suffix).push_back(id);
    }
  } else if (type == "Sequence") {
    const json& list = Require(node, field, "processors");
    if (!list.is_array()) {
      Fail(field + ".processors", "is not an array");
    }
    for (size_t i = 0; i < list.size(); ++i) {
      AppendPostProcessor(
          list[i], field + ".processors[" + std::to_string(i) + "]", out);
    }
  } else {
    Fail(field + ".type", "'" + type + "' is not supported");
  }
}

void JsonFile::AppendTemplate(const json& node, const std::string& field,
                              PostProcessor& out) const {
  const json& single = Require(node, field, "single");
  const json& specials = Require(node, field, "special_tokens");
  if (!single.is_array()) {
    Fail(field + ".single", "is not an array");
  }
  bool seen_sequence = false;
  for (size_t i = 0; i < single.size(); ++i) {
    const std::string path = field + ".single[" + std::to_string(i) + "]";
    if (Optional(single[i], "Sequence") != nullptr) {
      if (seen_sequence) {
        Fail(path, "is a second Sequence");
      }
      seen_sequence = true;
      continue;
    }
    const json& special = Require(single[i], path, "SpecialToken");
    const std::string name =
        String(Require(special, path + ".SpecialToken", "id"),
               path + ".SpecialToken.id");
    std::string special_path = field;
    special_path.append(".special_tokens.").append(name);
    const json& entry = Require(specials, field + ".special_tokens", name);
    const json& ids = Require(entry, special_path, "ids");
    if (!ids.is_array()) {
      Fail(special_path + ".ids", "is not an array");
    }
    for (size_t k = 0; k < ids.size(); ++k) {
      (seen_sequence ? out.suffix : out.prefix)
          .push_back(
              Id(ids[k], special_path + ".ids[" + std::to_string(k) + "]"));
    }
  }
  if (!seen_sequence) {
    Fail(field + ".single", "has no Sequence item");
  }
}

void OverrideSpecialIds(const TokenizerData& data, SpecialIds& special) {
  const auto set = [](int64_t value, int32_t& target) {
    if (value < 0) {
      return;
    }
    // Out-of-range values are caught by the tokenizer's range check.
    target = value > INT32_MAX ? INT32_MAX : static_cast<int32_t>(value);
  };
  set(data.bos_id, special.bos);
  set(data.eos_id, special.eos);
  set(data.unk_id, special.unk);
  set(data.pad_id, special.pad);
}

void CheckIdsInVocabulary(const SpecialIds& special, const PostProcessor& post,
                          size_t vocab_size, const std::string& source) {
  const auto check = [&](int32_t id, const char* what) {
    if (id < -1 || (id >= 0 && static_cast<size_t>(id) >= vocab_size)) {
      throw TokenizerError(source + ": " + what + " " + std::to_string(id) +
                           " is outside the vocabulary of " +
                           std::to_string(vocab_size) + " tokens");
    }
  };
  check(special.bos, "bos id");
  check(special.eos, "eos id");
  check(special.pad, "pad id");
  check(special.unk, "unk id");
  check(special.cls, "cls id");
  check(special.sep, "sep id");
  for (int32_t id : post.prefix) {
    check(id, "post-processor id");
  }
  for (int32_t id : post.suffix) {
    check(id, "post-processor id");
  }
}

}  // namespace quantd::engine::tokenizer::internal
