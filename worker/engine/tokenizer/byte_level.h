// The GPT-2 byte-level alphabet: every byte maps to one printable Unicode
// character (printable Latin-1 bytes to themselves, the rest to U+0100 and
// up), so byte-level BPE vocabularies can store any byte string as text.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace quantd::engine::tokenizer::internal {

// The character standing for each byte value (GPT-2's bytes_to_unicode).
const std::array<char32_t, 256>& ByteToUnicode();

// The UTF-8 byte-level form of raw `bytes` (e.g. " a" -> "Ġa").
std::string ByteLevelEncode(std::string_view bytes);

// Maps byte-level text back to raw bytes. Returns false, leaving `out`
// unspecified, if `token` is not valid UTF-8 or holds a character outside
// the byte-level alphabet.
bool ByteLevelDecode(std::string_view token, std::string& out);

}  // namespace quantd::engine::tokenizer::internal
