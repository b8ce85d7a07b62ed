// Added tokens (HF "added_tokens", GGUF control/user-defined tokens): strings
// such as "<|im_end|>" or "[SEP]" that are cut out of the raw text before
// normalization and pre-tokenization and map straight to their id.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace quantd::engine::tokenizer::internal {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false;  // Dropped by Decode(..., skip_special=true).
  bool lstrip = false;   // Also swallows ASCII whitespace on its left.
  bool rstrip = false;   // Also swallows ASCII whitespace on its right.
};

// Finds added tokens in text, leftmost-longest (HF's matching rule).
// Immutable; thread-safe.
class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);

  // A run of plain text (id == -1) or one added token.
  struct Segment {
    std::string_view text;
    int32_t id;
  };
  // Cuts `text` into plain runs and added tokens, in order; plain runs are
  // never empty.
  std::vector<Segment> Split(std::string_view text) const;

  // The added token with `id`, or nullptr.
  const AddedToken* Find(int32_t id) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  // Longest match starting at `pos`, or nullptr.
  const AddedToken* MatchAt(std::string_view text, size_t pos) const;

  std::vector<AddedToken> tokens_;
  // By first byte: indices into tokens_, longest content first.
  std::vector<std::vector<size_t>> by_first_byte_;
  std::unordered_map<int32_t, size_t> by_id_;
};

}  // namespace quantd::engine::tokenizer::internal
