// BpeTokenizer: byte-level BPE (GPT-2 family: SmolLM2, GPT-2, Llama-3 style
// vocabularies) built from an HF tokenizer.json or GGUF tokenizer metadata.
//
// Encode: added tokens are cut out of the raw text; each remaining run is
// pre-tokenized (PreTokenizer), and each piece goes through the BPE merges
// on its bytes. Invalid UTF-8 bytes never match a pre-tokenizer regex, so
// they end up in pieces of their own and are still encoded byte by byte;
// Decode gives the exact bytes back. A byte without a token of its own
// (SmolLM2 has none for 21 bytes that never occur in its training text,
// e.g. 0x04, 0xC0, 0xF1, 0xFF) is dropped, as HF and llama.cpp do.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "worker/engine/tokenizer/added_tokens.h"
#include "worker/engine/tokenizer/bpe_model.h"
#include "worker/engine/tokenizer/pre_tokenizer.h"
#include "worker/engine/tokenizer/tokenizer.h"
#include "worker/engine/tokenizer/tokenizer_data.h"
#include "worker/engine/tokenizer/tokenizer_json.h"

namespace quantd::engine::tokenizer::internal {

// Everything a BpeTokenizer is built from.
struct BpeSpec {
  std::string source;  // File or "GGUF metadata", for error messages.
  std::vector<std::string> id_to_token;  // Byte-level strings; holes "".
  std::vector<std::pair<std::string, std::string>> merges;  // Rank order.
  std::vector<AddedToken> added_tokens;
  PreTokenizer pre_tokenizer;
  PostProcessor post_processor;
  SpecialIds special;
  // Stands for bytes that have no token; -1 drops them (HF without an
  // unk_token, llama.cpp). Only tokenizer.json's model.unk_token sets it.
  int32_t unknown_byte_id = -1;
  bool ignore_merges = false;
};

// Immutable apart from the BpeModel's guarded cache; thread-safe.
class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(BpeSpec spec);

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
  std::vector<std::string> id_to_token_;
  std::vector<std::string> id_to_bytes_;  // Decoded form of each id.
  std::unordered_map<std::string, int32_t> token_to_id_;
  AddedTokenMatcher added_;
  PreTokenizer pre_tokenizer_;
  PostProcessor post_processor_;
  SpecialIds special_;
  BpeModel model_;
};

// tokenizer.json with model.type "BPE" and a ByteLevel pre-tokenizer.
// `data` supplies special-id overrides.
std::unique_ptr<Tokenizer> MakeBpeFromJson(const JsonFile& file,
                                           const TokenizerData& data);
// GGUF metadata with tokenizer.ggml.model "gpt2".
std::unique_ptr<Tokenizer> MakeBpeFromGguf(const TokenizerData& data);

}  // namespace quantd::engine::tokenizer::internal
