#include "worker/engine/tokenizer/unicode_tables.h"

#include <algorithm>

namespace quantd::engine::tokenizer::internal {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

// Hangul syllable composition constants (Unicode §3.12).
constexpr char32_t kHangulFirst = 0xAC00;
constexpr char32_t kLeadFirst = 0x1100;
constexpr char32_t kVowelFirst = 0x1161;
constexpr char32_t kTrailFirst = 0x11A7;
constexpr char32_t kVowelCount = 21;
constexpr char32_t kTrailCount = 28;
constexpr char32_t kSyllableCount = 19 * kVowelCount * kTrailCount;

uint8_t RangeValue(std::span<const CodepointRange> ranges, char32_t cp) {
  auto it = std::upper_bound(
      ranges.begin(), ranges.end(), cp,
      [](char32_t value, const CodepointRange& r) { return value < r.first; });
  if (it == ranges.begin()) {
    return 0;
  }
  --it;
  return cp <= it->last ? it->value : 0;
}

const CodepointMapping* FindMapping(std::span<const CodepointMapping> table,
                                    char32_t cp) {
  auto it = std::lower_bound(
      table.begin(), table.end(), cp,
      [](const CodepointMapping& m, char32_t value) { return m.cp < value; });
  return it != table.end() && it->cp == cp ? &*it : nullptr;
}

void AppendMapped(const CodepointMapping& mapping, std::u32string& out) {
  for (char32_t target : mapping.target) {
    if (target == 0) {
      break;
    }
    out.push_back(target);
  }
}

}  // namespace

bool IsOther(char32_t cp) {
  return (RangeValue(CategoryRanges(), cp) & kFlagOther) != 0;
}

bool IsPunctuation(char32_t cp) {
  return (RangeValue(CategoryRanges(), cp) & kFlagPunctuation) != 0;
}

bool IsMarkNonspacing(char32_t cp) {
  return (RangeValue(CategoryRanges(), cp) & kFlagMarkNonspacing) != 0;
}

bool IsWhitespace(char32_t cp) {
  // The White_Space property; stable since Unicode 6.3.
  if (cp <= 0x7F) {
    return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
  }
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

uint8_t CombiningClass(char32_t cp) {
  if (cp < 0x300) {
    return 0;
  }
  return RangeValue(CombiningClassRanges(), cp);
}

void AppendDecomposition(char32_t cp, std::u32string& out) {
  if (cp < 0xC0) {
    out.push_back(cp);
    return;
  }
  if (cp >= kHangulFirst && cp < kHangulFirst + kSyllableCount) {
    const char32_t index = cp - kHangulFirst;
    out.push_back(kLeadFirst + index / (kVowelCount * kTrailCount));
    out.push_back(kVowelFirst +
                  (index % (kVowelCount * kTrailCount)) / kTrailCount);
    if (index % kTrailCount != 0) {
      out.push_back(kTrailFirst + index % kTrailCount);
    }
    return;
  }
  // The generated table already holds full (recursive) decompositions.
  const CodepointMapping* mapping = FindMapping(CanonicalDecompositions(), cp);
  if (mapping == nullptr) {
    out.push_back(cp);
  } else {
    AppendMapped(*mapping, out);
  }
}

std::u32string Nfd(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (char32_t cp : text) {
    AppendDecomposition(cp, out);
  }
  // Canonical ordering: a stable sort of each run of non-starters by class.
  size_t i = 0;
  while (i < out.size()) {
    if (CombiningClass(out[i]) == 0) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < out.size() && CombiningClass(out[end]) != 0) {
      ++end;
    }
    std::stable_sort(out.begin() + i, out.begin() + end,
                     [](char32_t a, char32_t b) {
                       return CombiningClass(a) < CombiningClass(b);
                     });
    i = end;
  }
  return out;
}

void AppendLowercase(char32_t cp, std::u32string& out) {
  if (cp < 0x80) {
    out.push_back(cp >= 'A' && cp <= 'Z' ? cp + ('a' - 'A') : cp);
    return;
  }
  const CodepointMapping* mapping = FindMapping(LowercaseMappings(), cp);
  if (mapping == nullptr) {
    out.push_back(cp);
  } else {
    AppendMapped(*mapping, out);
  }
}

size_t ValidUtf8Length(std::string_view text) {
  if (text.empty()) {
    return 0;
  }
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t lead = byte(0);
  if (lead < 0x80) {
    return 1;
  }
  // Lead bytes 0xC0, 0xC1 and 0xF5.. only start overlong or out-of-range
  // forms; the range checks below reject the rest.
  size_t length = 4;
  char32_t min_cp = 0x10000;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    min_cp = 0x80;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    min_cp = 0x800;
  } else if (lead < 0xF0 || lead > 0xF4) {
    return 0;
  }
  if (text.size() < length) {
    return 0;
  }
  char32_t cp = lead & (0x7F >> length);
  for (size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) {
      return 0;
    }
    cp = (cp << 6) | (byte(i) & 0x3F);
  }
  if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return length;
}

std::u32string DecodeUtf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const size_t length = ValidUtf8Length(text.substr(i));
    if (length == 0) {
      out.push_back(kReplacement);
      ++i;
      continue;
    }
    const auto lead = static_cast<uint8_t>(text[i]);
    char32_t cp = length == 1 ? lead : lead & (0x7F >> length);
    for (size_t k = 1; k < length; ++k) {
      cp = (cp << 6) | (static_cast<uint8_t>(text[i + k]) & 0x3F);
    }
    out.push_back(cp);
    i += length;
  }
  return out;
}

void AppendUtf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace quantd::engine::tokenizer::internal
