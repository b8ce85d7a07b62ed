#include "worker/engine/tokenizer/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <string>

#include "worker/engine/tokenizer/tokenizer.h"
#include "worker/engine/tokenizer/unicode_tables.h"

namespace quantd::engine::tokenizer::internal {

// Oniguruma's Unicode \s is [\t\n\v\f\r\x{85}\p{Z}]; see the header.
const char kGpt2SplitPattern[] =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+)"
    R"(| ?[^\t\n\v\f\r\x{85}\p{Z}\p{L}\p{N}]+)"
    R"(|[\t\n\v\f\r\x{85}\p{Z}]+(?![^\t\n\v\f\r\x{85}\p{Z}]))"
    R"(|[\t\n\v\f\r\x{85}\p{Z}]+)";

struct Regex::Code {
  pcre2_code* code = nullptr;
  ~Code() { pcre2_code_free(code); }
};

Regex::Regex(std::string_view pattern, bool literal, std::string_view what)
    : code_(std::make_unique<Code>()) {
  uint32_t options = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
  if (literal) {
    options |= PCRE2_LITERAL;
  }
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  code_->code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()),
                    pattern.size(), options, &error, &error_offset, nullptr);
  if (code_->code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    throw TokenizerError(std::string(what) + ": regex '" +
                         std::string(pattern) + "' does not compile at " +
                         std::to_string(error_offset) + ": " +
                         reinterpret_cast<const char*>(message));
  }
  // JIT is an optimisation only: without it matching is slower but the same.
  pcre2_jit_compile(code_->code, PCRE2_JIT_COMPLETE);
}

Regex::~Regex() = default;
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;

std::vector<std::pair<size_t, size_t>> Regex::FindAll(
    std::string_view text) const {
  std::vector<std::pair<size_t, size_t>> matches;
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> data(
      pcre2_match_data_create_from_pattern(code_->code, nullptr),
      &pcre2_match_data_free);
  if (data == nullptr) {
    throw std::bad_alloc();
  }
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t offset = 0;
  while (offset <= text.size()) {
    const int rc = pcre2_match(code_->code, subject, text.size(), offset, 0,
                               data.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) {
      break;
    }
    if (rc < 0) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(rc, message, sizeof(message));
      throw TokenizerError(std::string("regex match failed: ") +
                           reinterpret_cast<const char*>(message));
    }
    const PCRE2_SIZE* vector = pcre2_get_ovector_pointer(data.get());
    const size_t begin = vector[0];
    const size_t end = vector[1];
    matches.emplace_back(begin, end);
    if (end > begin) {
      offset = end;
      continue;
    }
    // An empty match: step over one character (or one invalid byte).
    if (end >= text.size()) {
      break;
    }
    const size_t length = ValidUtf8Length(text.substr(end));
    offset = end + (length == 0 ? 1 : length);
  }
  return matches;
}

namespace {

struct Span {
  size_t begin;
  size_t end;
  bool is_match;
};

// Matches and the gaps between them, covering all of a text of `size` bytes
// (HF's Pattern::find_matches).
std::vector<Span> CoverWithGaps(
    size_t size, const std::vector<std::pair<size_t, size_t>>& matches,
    bool invert) {
  std::vector<Span> spans;
  size_t previous = 0;
  for (const auto& [begin, end] : matches) {
    if (previous != begin) {
      spans.push_back({previous, begin, invert});
    }
    spans.push_back({begin, end, !invert});
    previous = end;
  }
  if (previous != size || spans.empty()) {
    spans.push_back({previous, size, invert});
  }
  return spans;
}

// Folds spans as HF's NormalizedString::split does for `behavior`; a span
// whose is_match is left true afterwards is removed.
std::vector<Span> ApplyBehavior(std::vector<Span> spans,
                                SplitBehavior behavior) {
  if (behavior == SplitBehavior::kRemoved) {
    return spans;
  }
  std::vector<Span> out;
  bool previous_match = false;
  const bool backwards = behavior == SplitBehavior::kMergedWithNext;
  if (backwards) {
    std::reverse(spans.begin(), spans.end());
  }
  for (const Span& span : spans) {
    bool merge = false;
    switch (behavior) {
      case SplitBehavior::kContiguous:
        merge = span.is_match == previous_match;
        break;
      case SplitBehavior::kMergedWithPrevious:
      case SplitBehavior::kMergedWithNext:
        merge = span.is_match && !previous_match;
        break;
      default:
        break;
    }
    previous_match = span.is_match;
    if (merge && !out.empty()) {
      (backwards ? out.back().begin : out.back().end) =
          backwards ? span.begin : span.end;
    } else {
      out.push_back({span.begin, span.end, false});
    }
  }
  if (backwards) {
    std::reverse(out.begin(), out.end());
  }
  return out;
}

}  // namespace

void SplitAtMatches(std::string_view text,
                    const std::vector<std::pair<size_t, size_t>>& matches,
                    SplitBehavior behavior, bool invert,
                    std::vector<std::string>& out) {
  for (const Span& span :
       ApplyBehavior(CoverWithGaps(text.size(), matches, invert), behavior)) {
    if (span.is_match || span.end == span.begin) {
      continue;
    }
    out.emplace_back(text.substr(span.begin, span.end - span.begin));
  }
}

void PreTokenizer::AddSplit(Regex regex, SplitBehavior behavior, bool invert) {
  steps_.push_back({std::move(regex), behavior, invert, false, true});
}

void PreTokenizer::AddByteLevel(bool add_prefix_space, bool use_regex) {
  steps_.push_back({Regex(kGpt2SplitPattern, false, "byte-level regex"),
                    SplitBehavior::kIsolated, false, add_prefix_space,
                    use_regex});
}

std::vector<std::string> PreTokenizer::Run(std::string_view text) const {
  std::vector<std::string> pieces;
  if (!text.empty()) {
    pieces.emplace_back(text);
  }
  std::vector<std::string> next;
  for (const Step& step : steps_) {
    next.clear();
    for (std::string& piece : pieces) {
      if (step.add_prefix_space && piece.front() != ' ') {
        piece.insert(piece.begin(), ' ');
      }
      if (!step.split) {
        next.push_back(std::move(piece));
        continue;
      }
      SplitAtMatches(piece, step.regex.FindAll(piece), step.behavior,
                     step.invert, next);
    }
    pieces.swap(next);
  }
  return pieces;
}

}  // namespace quantd::engine::tokenizer::internal
