// BpeModel: the merge step of byte-level BPE. Turns one pre-tokenized piece
// (raw bytes) into token ids by starting from one symbol per byte (its GPT-2
// byte-level character) and repeatedly applying the lowest-ranked merge,
// leftmost first on ties, exactly as HF tokenizers' BPE and llama.cpp do.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace quantd::engine::tokenizer::internal {

// Immutable merge tables plus a bounded cache of recent pieces; Encode is
// thread-safe (the cache is sharded behind mutexes).
class BpeModel {
 public:
  // `id_to_token` holds the byte-level token strings by id ("" for unused
  // ids), `merges` the pairs in rank order. Bytes whose character is not in
  // the vocabulary become `unk_id`, or are dropped when it is -1 (as HF
  // does). With `ignore_merges`, a piece that is itself a token is emitted
  // whole. Throws TokenizerError naming `source` for a merge whose parts or
  // result are not in the vocabulary.
  BpeModel(const std::vector<std::string>& id_to_token,
           std::span<const std::pair<std::string, std::string>> merges,
           int32_t unk_id, bool ignore_merges, std::string_view source);
  ~BpeModel();

  // Appends the ids of `piece` to `out`.
  void Encode(std::string_view piece, std::vector<int32_t>& out) const;

 private:
  struct Merge {
    int32_t rank;
    int32_t result;
  };
  struct Cache;

  static uint64_t PairKey(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  // Applies merges to `symbols` in place.
  void ApplyMerges(std::vector<int32_t>& symbols) const;
  void EncodeUncached(std::string_view piece, std::vector<int32_t>& out) const;

  std::array<int32_t, 256> byte_ids_;  // -1 where the byte has no token.
  std::unordered_map<uint64_t, Merge> merges_;
  // Byte-level token -> id; filled only with `ignore_merges`.
  std::unordered_map<std::string, int32_t> whole_tokens_;
  int32_t unk_id_;
  std::unique_ptr<Cache> cache_;
};

}  // namespace quantd::engine::tokenizer::internal
