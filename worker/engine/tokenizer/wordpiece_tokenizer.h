// WordPieceTokenizer: BERT's tokenizer (all-MiniLM-L6-v2 and other BERT
// encoders) from an HF tokenizer.json: BertNormalizer (clean text, spaces
// around CJK ideographs, strip accents via NFD, lowercase),
// BertPreTokenizer (split on whitespace, isolate punctuation), greedy
// longest-match WordPiece with a continuation prefix ("##"), and the
// post-processor's [CLS] ... [SEP]. Invalid UTF-8 bytes become U+FFFD, which
// clean_text removes.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "worker/engine/tokenizer/added_tokens.h"
#include "worker/engine/tokenizer/tokenizer.h"
#include "worker/engine/tokenizer/tokenizer_data.h"
#include "worker/engine/tokenizer/tokenizer_json.h"

namespace quantd::engine::tokenizer::internal {

// HF's BertNormalizer options; `enabled` is false for a null normalizer.
struct BertNormalizerOptions {
  bool enabled = false;
  bool clean_text = true;
  bool handle_chinese_chars = true;
  std::optional<bool> strip_accents;  // Unset: follows lowercase.
  bool lowercase = true;
};

struct WordPieceSpec {
  std::string source;                    // For error messages.
  std::vector<std::string> id_to_token;  // Holes are "".
  std::vector<AddedToken> added_tokens;
  BertNormalizerOptions normalizer;
  std::string continuing_subword_prefix = "##";
  size_t max_input_chars_per_word = 100;
  // WordPiece decoder; unset for a null decoder (tokens joined by spaces).
  std::optional<std::string> decoder_prefix = "##";
  bool decoder_cleanup = true;
  PostProcessor post_processor;
  SpecialIds special;  // special.unk is required.
};

// Immutable; thread-safe.
class WordPieceTokenizer final : public Tokenizer {
 public:
  explicit WordPieceTokenizer(WordPieceSpec spec);

  std::vector<int32_t> Encode(std::string_view text,
                              bool add_special) const override;
  std::string Decode(std::span<const int32_t> ids,
                     bool skip_special) const override;
  int32_t VocabSize() const override {
    return static_cast<int32_t>(id_to_token_.size());
  }
  const SpecialIds& Special() const override { return special_; }
  std::string_view IdToToken(int32_t id) const override;
  int32_t TokenToId(std::string_view token) const override;

 private:
  std::u32string Normalize(std::u32string_view text) const;
  // Appends the ids of one pre-tokenized word.
  void EncodeWord(std::u32string_view word, std::vector<int32_t>& out) const;
  int32_t Lookup(std::string_view token) const;

  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const {
      return std::hash<std::string_view>()(s);
    }
  };

  std::vector<std::string> id_to_token_;
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>
      token_to_id_;
  AddedTokenMatcher added_;
  BertNormalizerOptions normalizer_;
  std::string prefix_;
  size_t max_input_chars_per_word_;
  std::optional<std::string> decoder_prefix_;
  bool decoder_cleanup_;
  PostProcessor post_processor_;
  SpecialIds special_;
};

// tokenizer.json with model.type "WordPiece"; `data` supplies special-id
// overrides.
std::unique_ptr<Tokenizer> MakeWordPieceFromJson(const JsonFile& file,
                                                 const TokenizerData& data);

}  // namespace quantd::engine::tokenizer::internal
