#include "worker/engine/tokenizer/added_tokens.h"

#include <algorithm>

namespace quantd::engine::tokenizer::internal {
namespace {

bool IsAsciiSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens)
    : tokens_(std::move(tokens)), by_first_byte_(256) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    by_id_.emplace(tokens_[i].id, i);
    if (tokens_[i].content.empty()) {
      continue;
    }
    by_first_byte_[static_cast<uint8_t>(tokens_[i].content[0])].push_back(i);
  }
  for (auto& candidates : by_first_byte_) {
    std::stable_sort(
        candidates.begin(), candidates.end(), [&](size_t a, size_t b) {
          return tokens_[a].content.size() > tokens_[b].content.size();
        });
  }
}

const AddedToken* AddedTokenMatcher::MatchAt(std::string_view text,
                                             size_t pos) const {
  for (size_t index : by_first_byte_[static_cast<uint8_t>(text[pos])]) {
    if (text.substr(pos).starts_with(tokens_[index].content)) {
      return &tokens_[index];
    }
  }
  return nullptr;
}

std::vector<AddedTokenMatcher::Segment> AddedTokenMatcher::Split(
    std::string_view text) const {
  std::vector<Segment> segments;
  if (tokens_.empty()) {
    if (!text.empty()) {
      segments.push_back({text, -1});
    }
    return segments;
  }
  size_t plain_begin = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const AddedToken* token = MatchAt(text, pos);
    if (token == nullptr) {
      ++pos;
      continue;
    }
    size_t plain_end = pos;
    size_t end = pos + token->content.size();
    if (token->lstrip) {
      while (plain_end > plain_begin && IsAsciiSpace(text[plain_end - 1])) {
        --plain_end;
      }
    }
    if (token->rstrip) {
      while (end < text.size() && IsAsciiSpace(text[end])) {
        ++end;
      }
    }
    if (plain_end > plain_begin) {
      segments.push_back(
          {text.substr(plain_begin, plain_end - plain_begin), -1});
    }
    segments.push_back({text.substr(plain_end, end - plain_end), token->id});
    plain_begin = pos = end;
  }
  if (plain_begin < text.size()) {
    segments.push_back({text.substr(plain_begin), -1});
  }
  return segments;
}

const AddedToken* AddedTokenMatcher::Find(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

}  // namespace quantd::engine::tokenizer::internal
