#include "worker/engine/tokenizer/byte_level.h"

#include "worker/engine/tokenizer/unicode_tables.h"

namespace quantd::engine::tokenizer::internal {
namespace {

constexpr bool IsPrintableByte(int b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) ||
         (b >= 0xAE && b <= 0xFF);
}

// Printable bytes keep their code point; the others take 256, 257, ... in
// byte order, exactly as GPT-2's bytes_to_unicode.
constexpr std::array<char32_t, 256> BuildByteToUnicode() {
  std::array<char32_t, 256> table{};
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    table[b] = IsPrintableByte(b) ? static_cast<char32_t>(b) : next++;
  }
  return table;
}

constexpr std::array<char32_t, 256> kByteToUnicode = BuildByteToUnicode();

// The inverse, indexed by code point (all lie below 0x144); -1 if unused.
constexpr std::array<int, 0x144> BuildUnicodeToByte() {
  std::array<int, 0x144> table{};
  for (int& value : table) {
    value = -1;
  }
  for (int b = 0; b < 256; ++b) {
    table[kByteToUnicode[b]] = b;
  }
  return table;
}

constexpr std::array<int, 0x144> kUnicodeToByte = BuildUnicodeToByte();

}  // namespace

const std::array<char32_t, 256>& ByteToUnicode() { return kByteToUnicode; }

std::string ByteLevelEncode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    AppendUtf8(kByteToUnicode[static_cast<uint8_t>(c)], out);
  }
  return out;
}

bool ByteLevelDecode(std::string_view token, std::string& out) {
  size_t i = 0;
  while (i < token.size()) {
    const size_t length = ValidUtf8Length(token.substr(i));
    if (length == 0 || length > 2) {
      return false;
    }
    char32_t cp = static_cast<uint8_t>(token[i]);
    if (length == 2) {
      cp = ((cp & 0x1F) << 6) | (static_cast<uint8_t>(token[i + 1]) & 0x3F);
    }
    if (cp >= kUnicodeToByte.size() || kUnicodeToByte[cp] < 0) {
      return false;
    }
    out.push_back(static_cast<char>(kUnicodeToByte[cp]));
    i += length;
  }
  return true;
}

}  // namespace quantd::engine::tokenizer::internal
