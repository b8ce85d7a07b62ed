#include "worker/engine/tokenizer/bpe_model.h"

#include <functional>
#include <mutex>
#include <queue>

#include "worker/engine/tokenizer/byte_level.h"
#include "worker/engine/tokenizer/tokenizer.h"
#include "worker/engine/tokenizer/unicode_tables.h"

namespace quantd::engine::tokenizer::internal {
namespace {

// Pieces longer than this are rare (long runs of symbols or spaces) and are
// not worth a cache entry.
constexpr size_t kMaxCachedPieceBytes = 64;
constexpr size_t kCacheShards = 16;
constexpr size_t kMaxEntriesPerShard = 1 << 14;

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const {
    return std::hash<std::string_view>()(s);
  }
};

using PieceMap = std::unordered_map<std::string, std::vector<int32_t>,
                                    StringHash, std::equal_to<>>;

// Merging the symbols at `pos` (id `left`) and its right neighbour (id
// `right`) into `result`. Lowest rank first, then leftmost, as HF.
struct MergeCandidate {
  int32_t rank;
  int32_t pos;
  int32_t left;
  int32_t right;
  int32_t result;
  bool operator>(const MergeCandidate& o) const {
    return rank != o.rank ? rank > o.rank : pos > o.pos;
  }
};

}  // namespace

// Sharded so that threads encoding at once rarely wait on each other. A
// full shard stops growing (as HF's cache does) rather than evicting.
struct BpeModel::Cache {
  struct Shard {
    std::mutex mutex;
    PieceMap entries;
  };
  std::array<Shard, kCacheShards> shards;
};

BpeModel::BpeModel(const std::vector<std::string>& id_to_token,
                   std::span<const std::pair<std::string, std::string>> merges,
                   int32_t unk_id, bool ignore_merges, std::string_view source)
    : unk_id_(unk_id), cache_(std::make_unique<Cache>()) {
  std::unordered_map<std::string_view, int32_t> vocab;
  vocab.reserve(id_to_token.size());
  for (size_t id = 0; id < id_to_token.size(); ++id) {
    if (!id_to_token[id].empty()) {
      vocab.emplace(id_to_token[id], static_cast<int32_t>(id));
    }
  }
  const auto& byte_chars = ByteToUnicode();
  for (int b = 0; b < 256; ++b) {
    std::string key;
    AppendUtf8(byte_chars[b], key);
    auto it = vocab.find(key);
    byte_ids_[b] = it == vocab.end() ? -1 : it->second;
  }
  const auto lookup = [&](const std::string& token, size_t rank,
                          const char* what) {
    auto it = vocab.find(token);
    if (it == vocab.end()) {
      throw TokenizerError(std::string(source) + ": merges[" +
                           std::to_string(rank) + "]: " + what + " '" + token +
                           "' is not in the vocabulary");
    }
    return it->second;
  };
  merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    const int32_t left_id = lookup(left, rank, "left token");
    const int32_t right_id = lookup(right, rank, "right token");
    const int32_t result = lookup(left + right, rank, "merged token");
    // A repeated pair takes its last rank, as in HF tokenizers (llama.cpp
    // keeps the first; real vocabularies have no repeats).
    merges_.insert_or_assign(PairKey(left_id, right_id),
                             Merge{static_cast<int32_t>(rank), result});
  }
  if (ignore_merges) {
    for (const auto& [token, id] : vocab) {
      whole_tokens_.emplace(token, id);
    }
  }
}

BpeModel::~BpeModel() = default;

void BpeModel::ApplyMerges(std::vector<int32_t>& ids) const {
  const auto n = static_cast<int32_t>(ids.size());
  if (n < 2) {
    return;
  }
  std::priority_queue<MergeCandidate, std::vector<MergeCandidate>,
                      std::greater<>>
      heap;
  std::vector<int32_t> prev(n);
  std::vector<int32_t> next(n);
  const auto push = [&](int32_t pos, int32_t right_pos) {
    auto it = merges_.find(PairKey(ids[pos], ids[right_pos]));
    if (it == merges_.end()) {
      return;
    }
    heap.push(
        {it->second.rank, pos, ids[pos], ids[right_pos], it->second.result});
  };
  for (int32_t i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
    if (i + 1 < n) {
      push(i, i + 1);
    }
  }
  constexpr int32_t kMerged = -1;  // Marks a symbol folded into its left.
  while (!heap.empty()) {
    const MergeCandidate c = heap.top();
    heap.pop();
    const int32_t right = next[c.pos];
    // Stale candidates no longer describe the pair at pos.
    if (ids[c.pos] != c.left || right < 0 || ids[right] != c.right) {
      continue;
    }
    ids[c.pos] = c.result;
    ids[right] = kMerged;
    next[c.pos] = next[right];
    if (next[right] >= 0) {
      prev[next[right]] = c.pos;
    }
    if (prev[c.pos] >= 0) {
      push(prev[c.pos], c.pos);
    }
    if (next[c.pos] >= 0) {
      push(c.pos, next[c.pos]);
    }
  }
  std::erase(ids, kMerged);
}

void BpeModel::EncodeUncached(std::string_view piece,
                              std::vector<int32_t>& out) const {
  if (!whole_tokens_.empty()) {
    auto it = whole_tokens_.find(ByteLevelEncode(piece));
    if (it != whole_tokens_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  std::vector<int32_t> ids;
  ids.reserve(piece.size());
  for (char c : piece) {
    const int32_t id = byte_ids_[static_cast<uint8_t>(c)];
    if (id >= 0) {
      ids.push_back(id);
    } else if (unk_id_ >= 0) {
      ids.push_back(unk_id_);
    }
  }
  ApplyMerges(ids);
  out.insert(out.end(), ids.begin(), ids.end());
}

void BpeModel::Encode(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.size() > kMaxCachedPieceBytes) {
    EncodeUncached(piece, out);
    return;
  }
  Cache::Shard& shard =
      cache_
          ->shards[(std::hash<std::string_view>()(piece) >> 20) % kCacheShards];
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto it = shard.entries.find(piece);
    if (it != shard.entries.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t first = out.size();
  EncodeUncached(piece, out);
  std::lock_guard<std::mutex> lock(shard.mutex);
  if (shard.entries.size() < kMaxEntriesPerShard) {
    shard.entries.emplace(std::string(piece),
                          std::vector<int32_t>(out.begin() + first, out.end()));
  }
}

}  // namespace quantd::engine::tokenizer::internal
