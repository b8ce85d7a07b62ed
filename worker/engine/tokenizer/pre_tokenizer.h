// Pre-tokenization: splitting text into the pieces a tokenizer model sees,
// as HF tokenizers' Split / Digits / ByteLevel(use_regex) pre-tokenizers and
// llama.cpp's BPE pre-tokenizer regexes do. Regexes are PCRE2 with UTF and
// UCP (Unicode \p classes), JIT-compiled. HF uses Oniguruma: patterns from a
// tokenizer.json are used as written, where \s differs only in U+180E
// (PCRE2 matches it, Oniguruma does not).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace quantd::engine::tokenizer::internal {

// The GPT-2 pre-tokenizer regex (HF ByteLevel use_regex, llama.cpp "gpt2"),
// with \s spelled out as Oniguruma's Unicode \s (HT..CR, NEL, Z*), which
// PCRE2's \s does not match exactly (it adds U+180E).
extern const char kGpt2SplitPattern[];

// A compiled regex. Immutable; matching is thread-safe.
class Regex {
 public:
  // Throws TokenizerError naming `what` (file and field) if `pattern` does
  // not compile. `literal` matches the pattern as a plain string.
  Regex(std::string_view pattern, bool literal, std::string_view what);
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;

  // Byte spans [begin, end) of all non-overlapping matches, left to right.
  // `text` may hold invalid UTF-8: invalid bytes never match.
  std::vector<std::pair<size_t, size_t>> FindAll(std::string_view text) const;

 private:
  struct Code;
  std::unique_ptr<Code> code_;
};

// What happens to the matched parts (delimiters) of a Split, as HF's
// SplitDelimiterBehavior.
enum class SplitBehavior {
  kRemoved,             // Dropped.
  kIsolated,            // Pieces of their own.
  kMergedWithPrevious,  // Appended to the piece before.
  kMergedWithNext,      // Prepended to the piece after.
  kContiguous,          // Adjacent matches form one piece.
};

// A sequence of split steps; each step splits every piece of the previous
// one. Empty pieces are dropped. Immutable after setup; Run is thread-safe.
class PreTokenizer {
 public:
  // Adds a regex split. `invert` splits on the non-matching parts instead.
  void AddSplit(Regex regex, SplitBehavior behavior, bool invert);
  // Adds HF's ByteLevel step: an optional leading space for each piece that
  // lacks one, then (if `use_regex`) the GPT-2 split.
  void AddByteLevel(bool add_prefix_space, bool use_regex);

  std::vector<std::string> Run(std::string_view text) const;

 private:
  struct Step {
    Regex regex;
    SplitBehavior behavior;
    bool invert;
    bool add_prefix_space;  // Before splitting (ByteLevel only).
    bool split;             // False for ByteLevel without regex.
  };
  std::vector<Step> steps_;
};

// Splits `text` at `matches` (sorted, non-overlapping) with `behavior`,
// appending the non-empty pieces to `out`.
void SplitAtMatches(std::string_view text,
                    const std::vector<std::pair<size_t, size_t>>& matches,
                    SplitBehavior behavior, bool invert,
                    std::vector<std::string>& out);

}  // namespace quantd::engine::tokenizer::internal
