#include "worker/engine/tokenizer/bpe_tokenizer.h"

#include "worker/engine/tokenizer/byte_level.h"

namespace quantd::engine::tokenizer::internal {
BpeTokenizer::BpeTokenizer(BpeSpec spec)
    : id_to_token_(std::move(spec.id_to_token)),
      added_(std::move(spec.added_tokens)),
      pre_tokenizer_(std::move(spec.pre_tokenizer)),
      post_processor_(std::move(spec.post_processor)),
      special_(spec.special),
      model_(id_to_token_, spec.merges, spec.unknown_byte_id,
             spec.ignore_merges, spec.source) {
  // Added tokens may lie past the model's vocabulary (HF allows it).
  for (const AddedToken& token : added_.tokens()) {
    if (static_cast<size_t>(token.id) >= id_to_token_.size()) {
      id_to_token_.resize(token.id + 1);
    }
    if (id_to_token_[token.id].empty()) {
      id_to_token_[token.id] = token.content;
    }
  }
  const size_t size = id_to_token_.size();
  CheckIdsInVocabulary(special_, post_processor_, size, spec.source);
  id_to_bytes_.resize(size);
  token_to_id_.reserve(size);
  for (size_t id = 0; id < size; ++id) {
    const std::string& token = id_to_token_[id];
    if (token.empty()) {
      continue;
    }
    token_to_id_.emplace(token, static_cast<int32_t>(id));
    // Tokens outside the byte-level alphabet decode as their own text, as
    // HF's ByteLevel decoder does.
    if (!ByteLevelDecode(token, id_to_bytes_[id])) {
      id_to_bytes_[id] = token;
    }
  }
  for (const AddedToken& token : added_.tokens()) {
    id_to_bytes_[token.id] = token.content;
    token_to_id_.insert_or_assign(token.content, token.id);
  }
}

std::vector<int32_t> BpeTokenizer::Encode(std::string_view text,
                                          bool add_special) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 8);
  if (add_special) {
    ids.insert(ids.end(), post_processor_.prefix.begin(),
               post_processor_.prefix.end());
  }
  for (const auto& segment : added_.Split(text)) {
    if (segment.id >= 0) {
      ids.push_back(segment.id);
      continue;
    }
    for (const std::string& piece : pre_tokenizer_.Run(segment.text)) {
      model_.Encode(piece, ids);
    }
  }
  if (add_special) {
    ids.insert(ids.end(), post_processor_.suffix.begin(),
               post_processor_.suffix.end());
  }
  return ids;
}

std::string BpeTokenizer::Decode(std::span<const int32_t> ids,
                                 bool skip_special) const {
  std::string text;
  for (int32_t id : ids) {
    if (id < 0 || id >= VocabSize()) {
      throw TokenizerError("Decode: id " + std::to_string(id) +
                           " is outside the vocabulary of " +
                           std::to_string(VocabSize()) + " tokens");
    }
    if (skip_special) {
      const AddedToken* added = added_.Find(id);
      if (added != nullptr && added->special) {
        continue;
      }
    }
    text += id_to_bytes_[id];
  }
  return text;
}

std::string_view BpeTokenizer::IdToToken(int32_t id) const {
  if (id < 0 || id >= VocabSize()) {
    return {};
  }
  return id_to_token_[id];
}

int32_t BpeTokenizer::TokenToId(std::string_view token) const {
  auto it = token_to_id_.find(std::string(token));
  return it == token_to_id_.end() ? -1 : it->second;
}

}  // namespace quantd::engine::tokenizer::internal
