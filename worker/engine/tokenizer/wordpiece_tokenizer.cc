#include "worker/engine/tokenizer/wordpiece_tokenizer.h"

#include <algorithm>

#include "worker/engine/tokenizer/unicode_tables.h"

namespace quantd::engine::tokenizer::internal {
namespace {

// BERT counts \t \n \r as whitespace, not as control characters.
bool IsBertWhitespace(char32_t cp) {
  return cp == '\t' || cp == '\n' || cp == '\r' || IsWhitespace(cp);
}

bool IsBertControl(char32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') {
    return false;
  }
  return IsOther(cp);
}

// The CJK ideograph blocks BERT surrounds with spaces.
bool IsChineseChar(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

// HF's wordpiece decoder cleanup, applied to each token.
std::string Cleanup(std::string token) {
  static constexpr std::pair<std::string_view, std::string_view> kRules[] = {
      {" .", "."},   {" ?", "?"},     {" !", "!"},    {" ,", ","},
      {" ' ", "'"},  {" n't", "n't"}, {" 'm", "'m"},  {" do not", " don't"},
      {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kRules) {
    size_t pos = 0;
    while ((pos = token.find(from, pos)) != std::string::npos) {
      token.replace(pos, from.size(), to);
      pos += to.size();
    }
  }
  return token;
}

std::string ToUtf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t cp : text) {
    AppendUtf8(cp, out);
  }
  return out;
}

}  // namespace

WordPieceTokenizer::WordPieceTokenizer(WordPieceSpec spec)
    : id_to_token_(std::move(spec.id_to_token)),
      added_(std::move(spec.added_tokens)),
      normalizer_(spec.normalizer),
      prefix_(std::move(spec.continuing_subword_prefix)),
      max_input_chars_per_word_(spec.max_input_chars_per_word),
      decoder_prefix_(std::move(spec.decoder_prefix)),
      decoder_cleanup_(spec.decoder_cleanup),
      post_processor_(std::move(spec.post_processor)),
      special_(spec.special) {
  for (size_t id = 0; id < id_to_token_.size(); ++id) {
    if (!id_to_token_[id].empty()) {
      token_to_id_.emplace(id_to_token_[id], static_cast<int32_t>(id));
    }
  }
  for (const AddedToken& token : added_.tokens()) {
    if (static_cast<size_t>(token.id) >= id_to_token_.size()) {
      id_to_token_.resize(token.id + 1);
    }
    if (id_to_token_[token.id].empty()) {
      id_to_token_[token.id] = token.content;
    }
  }
  if (special_.unk < 0) {
    throw TokenizerError(spec.source + ": WordPiece needs an unk token");
  }
  CheckIdsInVocabulary(special_, post_processor_, id_to_token_.size(),
                       spec.source);
}

std::u32string WordPieceTokenizer::Normalize(std::u32string_view text) const {
  if (!normalizer_.enabled) {
    return std::u32string(text);
  }
  std::u32string out;
  out.reserve(text.size());
  for (char32_t cp : text) {
    if (normalizer_.clean_text) {
      if (cp == 0 || cp == 0xFFFD || IsBertControl(cp)) {
        continue;
      }
      if (IsBertWhitespace(cp)) {
        cp = ' ';
      }
    }
    if (normalizer_.handle_chinese_chars && IsChineseChar(cp)) {
      out.push_back(' ');
      out.push_back(cp);
      out.push_back(' ');
      continue;
    }
    out.push_back(cp);
  }
  if (normalizer_.strip_accents.value_or(normalizer_.lowercase)) {
    out = Nfd(out);
    std::erase_if(out, IsMarkNonspacing);
  }
  if (normalizer_.lowercase) {
    std::u32string lowered;
    lowered.reserve(out.size());
    for (char32_t cp : out) {
      AppendLowercase(cp, lowered);
    }
    out.swap(lowered);
  }
  return out;
}

int32_t WordPieceTokenizer::Lookup(std::string_view token) const {
  auto it = token_to_id_.find(token);
  return it == token_to_id_.end() ? -1 : it->second;
}

// Greedy longest match from the left; a word with any unmatched remainder
// becomes a single unk, as in HF.
void WordPieceTokenizer::EncodeWord(std::u32string_view word,
                                    std::vector<int32_t>& out) const {
  if (word.size() > max_input_chars_per_word_) {
    out.push_back(special_.unk);
    return;
  }
  const std::string text = ToUtf8(word);
  // Byte offset where each character starts, plus the end.
  std::vector<size_t> bounds;
  bounds.reserve(word.size() + 1);
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<uint8_t>(text[i]) & 0xC0) != 0x80) {
      bounds.push_back(i);
    }
  }
  bounds.push_back(text.size());
  const size_t first = out.size();
  std::string candidate;
  size_t start = 0;  // Index into bounds.
  while (start + 1 < bounds.size()) {
    int32_t id = -1;
    size_t end = bounds.size() - 1;
    for (; end > start; --end) {
      const std::string_view piece(text.data() + bounds[start],
                                   bounds[end] - bounds[start]);
      if (start == 0) {
        id = Lookup(piece);
      } else {
        candidate.assign(prefix_).append(piece);
        id = Lookup(candidate);
      }
      if (id >= 0) {
        break;
      }
    }
    if (id < 0) {
      out.resize(first);
      out.push_back(special_.unk);
      return;
    }
    out.push_back(id);
    start = end;
  }
}

std::vector<int32_t> WordPieceTokenizer::Encode(std::string_view text,
                                                bool add_special) const {
  std::vector<int32_t> ids;
  if (add_special) {
    ids.insert(ids.end(), post_processor_.prefix.begin(),
               post_processor_.prefix.end());
  }
  for (const auto& segment : added_.Split(text)) {
    if (segment.id >= 0) {
      ids.push_back(segment.id);
      continue;
    }
    const std::u32string normalized = Normalize(DecodeUtf8(segment.text));
    const std::u32string_view view = normalized;
    // BertPreTokenizer: whitespace separates words and is dropped; each
    // punctuation character is a word of its own.
    size_t word_begin = 0;
    for (size_t i = 0; i <= normalized.size(); ++i) {
      const bool at_end = i == normalized.size();
      const bool space = !at_end && IsWhitespace(normalized[i]);
      const bool punct = !at_end && !space && IsPunctuation(normalized[i]);
      if (!at_end && !space && !punct) {
        continue;
      }
      if (i > word_begin) {
        EncodeWord(view.substr(word_begin, i - word_begin), ids);
      }
      if (punct) {
        EncodeWord(view.substr(i, 1), ids);
      }
      word_begin = i + 1;
    }
  }
  if (add_special) {
    ids.insert(ids.end(), post_processor_.suffix.begin(),
               post_processor_.suffix.end());
  }
  return ids;
}

std::string WordPieceTokenizer::Decode(std::span<const int32_t> ids,
                                       bool skip_special) const {
  std::string text;
  bool first = true;
  for (int32_t id : ids) {
    if (id < 0 || id >= VocabSize()) {
      throw TokenizerError("Decode: id " + std::to_string(id) +
                           " is outside the vocabulary of " +
                           std::to_string(VocabSize()) + " tokens");
    }
    const AddedToken* added = added_.Find(id);
    if (skip_special && added != nullptr && added->special) {
      continue;
    }
    std::string token = added ? added->content : id_to_token_[id];
    if (!first) {
      if (decoder_prefix_ && token.starts_with(*decoder_prefix_)) {
        token.erase(0, decoder_prefix_->size());
      } else {
        token.insert(token.begin(), ' ');
      }
    }
    first = false;
    text +=
        decoder_prefix_ && decoder_cleanup_ ? Cleanup(std::move(token)) : token;
  }
  return text;
}

std::string_view WordPieceTokenizer::IdToToken(int32_t id) const {
  if (id < 0 || id >= VocabSize()) {
    return {};
  }
  return id_to_token_[id];
}

int32_t WordPieceTokenizer::TokenToId(std::string_view token) const {
  for (const AddedToken& added : added_.tokens()) {
    if (added.content == token) {
      return added.id;
    }
  }
  return Lookup(token);
}

namespace {

using nlohmann::json;

BertNormalizerOptions ParseBertNormalizer(const JsonFile& file) {
  BertNormalizerOptions options;
  const json* node = file.Optional(file.root(), "normalizer");
  if (node == nullptr) {
    return options;
  }
  const std::string field = "normalizer";
  const std::string type =
      file.String(file.Require(*node, field, "type"), field + ".type");
  if (type != "BertNormalizer") {
    file.Fail(field + ".type", "'" + type +
                                   "' is not supported for "
                                   "WordPiece (BertNormalizer or null)");
  }
  options.enabled = true;
  options.clean_text = file.Bool(*node, field, "clean_text", true);
  options.handle_chinese_chars =
      file.Bool(*node, field, "handle_chinese_chars", true);
  if (file.Optional(*node, "strip_accents") != nullptr) {
    options.strip_accents = file.Bool(*node, field, "strip_accents", false);
  }
  options.lowercase = file.Bool(*node, field, "lowercase", true);
  return options;
}

void ParseWordPieceDecoder(const JsonFile& file, WordPieceSpec& spec) {
  const json* node = file.Optional(file.root(), "decoder");
  if (node == nullptr) {
    spec.decoder_prefix.reset();
    return;
  }
  const std::string type =
      file.String(file.Require(*node, "decoder", "type"), "decoder.type");
  if (type != "WordPiece") {
    file.Fail("decoder.type", "'" + type + "' is not supported for WordPiece");
  }
  const json* prefix = file.Optional(*node, "prefix");
  spec.decoder_prefix =
      prefix ? file.String(*prefix, "decoder.prefix") : std::string("##");
  spec.decoder_cleanup = file.Bool(*node, "decoder", "cleanup", true);
}

int32_t FindToken(const std::vector<std::string>& id_to_token,
                  const std::vector<AddedToken>& added,
                  std::string_view token) {
  for (const AddedToken& a : added) {
    if (a.content == token) {
      return a.id;
    }
  }
  auto it = std::find(id_to_token.begin(), id_to_token.end(), token);
  return it == id_to_token.end()
             ? -1
             : static_cast<int32_t>(it - id_to_token.begin());
}

void CheckBertPreTokenizer(const JsonFile& file) {
  const json* pre = file.Optional(file.root(), "pre_tokenizer");
  if (pre == nullptr) {
    file.Fail("pre_tokenizer", "is missing; WordPiece needs BertPreTokenizer");
  }
  const std::string type = file.String(
      file.Require(*pre, "pre_tokenizer", "type"), "pre_tokenizer.type");
  if (type != "BertPreTokenizer") {
    file.Fail("pre_tokenizer.type", "'" + type +
                                        "' is not supported for "
                                        "WordPiece (BertPreTokenizer)");
  }
}

// model.unk_token, continuing_subword_prefix, max_input_chars_per_word.
void ParseWordPieceModel(const JsonFile& file, const json& model,
                         WordPieceSpec& spec) {
  const std::string unk =
      file.String(file.Require(model, "model", "unk_token"), "model.unk_token");
  spec.special.unk = FindToken(spec.id_to_token, spec.added_tokens, unk);
  if (spec.special.unk < 0) {
    file.Fail("model.unk_token", "'" + unk + "' is not in the vocabulary");
  }
  if (const json* prefix = file.Optional(model, "continuing_subword_prefix")) {
    spec.continuing_subword_prefix =
        file.String(*prefix, "model.continuing_subword_prefix");
  }
  if (const json* max = file.Optional(model, "max_input_chars_per_word")) {
    if (!max->is_number_unsigned()) {
      file.Fail("model.max_input_chars_per_word", "is not a positive integer");
    }
    spec.max_input_chars_per_word = max->get<size_t>();
  }
}

}  // namespace

std::unique_ptr<Tokenizer> MakeWordPieceFromJson(const JsonFile& file,
                                                 const TokenizerData& data) {
  const json& model = file.Require(file.root(), "", "model");
  WordPieceSpec spec;
  spec.source = file.source();
  spec.id_to_token =
      file.Vocab(file.Require(model, "model", "vocab"), "model.vocab");
  spec.normalizer = ParseBertNormalizer(file);
  spec.added_tokens = file.AddedTokens(spec.normalizer.enabled);
  CheckBertPreTokenizer(file);
  ParseWordPieceModel(file, model, spec);
  ParseWordPieceDecoder(file, spec);
  spec.post_processor = file.ParsePostProcessor();
  // [CLS]/[SEP] are what the post-processor adds; the names are a fallback.
  const PostProcessor& post = spec.post_processor;
  spec.special.cls =
      post.prefix.size() == 1
          ? post.prefix[0]
          : FindToken(spec.id_to_token, spec.added_tokens, "[CLS]");
  spec.special.sep =
      post.suffix.size() == 1
          ? post.suffix[0]
          : FindToken(spec.id_to_token, spec.added_tokens, "[SEP]");
  spec.special.pad = FindToken(spec.id_to_token, spec.added_tokens, "[PAD]");
  OverrideSpecialIds(data, spec.special);
  return std::make_unique<WordPieceTokenizer>(std::move(spec));
}

}  // namespace quantd::engine::tokenizer::internal
