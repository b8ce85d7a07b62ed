// Tokenizer: text <-> token ids, exactly as the models' own tokenizers do it
// (HF `tokenizers` / llama.cpp), and MakeTokenizer, which builds one from a
// TokenizerData (GGUF metadata or an HF tokenizer.json).
//
// Supported: byte-level BPE (GPT-2 style; tokenizer.json or GGUF "gpt2"
// model with pre-tokenizer "gpt2"/"default" or "smollm") and WordPiece (BERT
// tokenizer.json). Anything else is rejected with a TokenizerError rather
// than approximated: other model types and normalizers, BPE byte_fallback or
// dropout, added tokens with single_word, or normalized=true under a
// normalizer. lstrip/rstrip on added tokens strip ASCII whitespace only.
// Ids match HF tokenizers 0.23 on every Unicode code point (checked once;
// the tests cover every 13th).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "worker/engine/tokenizer/tokenizer_data.h"

namespace quantd::engine::tokenizer {

// Thrown for a malformed or unsupported tokenizer description (the message
// names the file and the field) and for invalid ids given to Decode.
class TokenizerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Ids of the special tokens; -1 where the tokenizer has none.
struct SpecialIds {
  int32_t bos = -1;
  int32_t eos = -1;
  int32_t pad = -1;
  int32_t unk = -1;
  int32_t cls = -1;
  int32_t sep = -1;
};

// A loaded tokenizer. Immutable after construction apart from internal
// caches, which are guarded: every method is const and safe to call from
// many threads at once. Owns all its tables (nothing points back into the
// TokenizerData it was built from).
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Token ids of `text` (any bytes; see the implementation notes for how
  // invalid UTF-8 is treated). Added/special tokens written in the text
  // (e.g. "<|im_end|>", "[SEP]") are recognised before pre-tokenization,
  // as HF tokenizers does. `add_special` adds what the tokenizer's
  // post-processor adds: [CLS] ... [SEP] for BERT, BOS/EOS for GGUF models
  // whose metadata asks for them. Never truncates or pads.
  virtual std::vector<int32_t> Encode(std::string_view text,
                                      bool add_special) const = 0;

  // The text of `ids`. Byte-level BPE returns the exact bytes, so
  // Decode(Encode(x, false)) == x for any x, even invalid UTF-8, as long as
  // every byte of x has a token (bytes without one are dropped by Encode,
  // as in HF and llama.cpp; SmolLM2 lacks 21, see bpe_tokenizer.h). WordPiece
  // joins words with spaces (lossy by nature). `skip_special` drops special
  // tokens. Throws TokenizerError for an id outside [0, VocabSize()).
  virtual std::string Decode(std::span<const int32_t> ids,
                             bool skip_special = false) const = 0;

  // One past the largest id (vocabulary and added tokens).
  virtual int32_t VocabSize() const = 0;
  virtual const SpecialIds& Special() const = 0;
  // The token string of `id` as stored in the vocabulary (byte-level
  // tokens in their GPT-2 unicode form), or "" if out of range.
  virtual std::string_view IdToToken(int32_t id) const = 0;
  // The id of vocabulary or added token `token`, or -1.
  virtual int32_t TokenToId(std::string_view token) const = 0;
};

// Builds the tokenizer `data` describes. Reads data.tokenizer_json for
// kTokenizerJson. data.bos_id/eos_id/unk_id/pad_id, where >= 0, set or
// override the special ids. Throws TokenizerError naming the file (or GGUF
// key) and field on malformed or unsupported input.
std::unique_ptr<Tokenizer> MakeTokenizer(const TokenizerData& data);

}  // namespace quantd::engine::tokenizer
