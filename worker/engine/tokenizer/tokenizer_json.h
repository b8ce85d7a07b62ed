// Reading HF tokenizer.json files: loading, field access with errors that
// name the file and the field, and the sections shared by every model type
// (vocab, added_tokens, post_processor).
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "worker/engine/tokenizer/added_tokens.h"
#include "worker/engine/tokenizer/tokenizer.h"
#include "worker/engine/tokenizer/tokenizer_data.h"

namespace quantd::engine::tokenizer::internal {

// Ids the post-processor puts around a single sequence.
struct PostProcessor {
  std::vector<int32_t> prefix;
  std::vector<int32_t> suffix;
};

// Field access for one parsed file; every error names `source` (the file)
// and the dotted field path.
class JsonFile {
 public:
  // Parses `path`; throws TokenizerError if it cannot be read or parsed.
  static JsonFile Load(const std::filesystem::path& path);

  const nlohmann::json& root() const { return root_; }
  const std::string& source() const { return source_; }

  [[noreturn]] void Fail(std::string_view field,
                         std::string_view problem) const;
  // object[key] where `object` lives at `field`; fails if absent.
  const nlohmann::json& Require(const nlohmann::json& object,
                                std::string_view field,
                                std::string_view key) const;
  // object[key] or nullptr if absent or null.
  const nlohmann::json* Optional(const nlohmann::json& object,
                                 std::string_view key) const;
  std::string String(const nlohmann::json& node, std::string_view field) const;
  bool Bool(const nlohmann::json& object, std::string_view field,
            std::string_view key, bool fallback) const;
  int32_t Id(const nlohmann::json& node, std::string_view field) const;

  // model.vocab (token -> id object) as id -> token; holes are "".
  std::vector<std::string> Vocab(const nlohmann::json& vocab,
                                 std::string_view field) const;
  // added_tokens; fails for features we do not implement (single_word,
  // and normalized=true when `has_normalizer`).
  std::vector<AddedToken> AddedTokens(bool has_normalizer) const;
  // post_processor: null, ByteLevel, TemplateProcessing, BertProcessing,
  // RobertaProcessing or a Sequence of them.
  PostProcessor ParsePostProcessor() const;

 private:
  JsonFile(nlohmann::json root, std::string source)
      : root_(std::move(root)), source_(std::move(source)) {}
  void AppendPostProcessor(const nlohmann::json& node, const std::string& field,
                           PostProcessor& out) const;
  void AppendTemplate(const nlohmann::json& node, const std::string& field,
                      PostProcessor& out) const;

  nlohmann::json root_;
  std::string source_;
};

// Sets the special ids that `data` gives (those >= 0).
void OverrideSpecialIds(const TokenizerData& data, SpecialIds& special);

// Throws TokenizerError naming `source` if a special or post-processor id
// lies outside [0, vocab_size) (-1, "none", is fine for special ids).
void CheckIdsInVocabulary(const SpecialIds& special, const PostProcessor& post,
                          size_t vocab_size, const std::string& source);

}  // namespace quantd::engine::tokenizer::internal
