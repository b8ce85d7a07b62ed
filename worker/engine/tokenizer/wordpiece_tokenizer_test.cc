#include "worker/engine/tokenizer/wordpiece_tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "worker/engine/tokenizer/tokenizer_test_util.h"

namespace quantd::engine::tokenizer {
namespace {

using test_util::TempDir;
using test_util::WriteFile;

using ::testing::ElementsAre;
using json = nlohmann::json;

enum Id : int32_t {
  kPad,
  kUnk,
  kCls,
  kSep,
  kMask,
  kHello,
  kWorld,
  kS,
  kUn,
  kAff,
  kAble,
  kComma,
  kDot,
  kZhong,
  kUber,
  kNaive,
  kIi,
  kA
};

std::unique_ptr<Tokenizer> TinyBert(const TempDir& dir) {
  const char* tokens[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello",
                          "world", "##s",   "un",    "##aff", "##able", ",",
                          ".",     "中",    "uber",  "naive", "i",      "a"};
  json vocab = json::object();
  for (int32_t id = 0; id < 18; ++id) {
    vocab[tokens[id]] = id;
  }
  json root;
  root["model"] = {{"type", "WordPiece"},
                   {"unk_token", "[UNK]"},
                   {"continuing_subword_prefix", "##"},
                   {"max_input_chars_per_word", 12},
                   {"vocab", vocab}};
  root["normalizer"] = {{"type", "BertNormalizer"},
                        {"clean_text", true},
                        {"handle_chinese_chars", true},
                        {"strip_accents", nullptr},
                        {"lowercase", true}};
  root["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  json added = json::array();
  for (int32_t id : {kPad, kUnk, kCls, kSep, kMask}) {
    added.push_back({{"id", id},
                     {"content", tokens[id]},
                     {"special", true},
                     {"normalized", false}});
  }
  root["added_tokens"] = added;
  root["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single",
       {{{"SpecialToken", {{"id", "[CLS]"}}}},
        {{"Sequence", {{"id", "A"}}}},
        {{"SpecialToken", {{"id", "[SEP]"}}}}}},
      {"special_tokens",
       {{"[CLS]", {{"ids", {kCls}}}}, {"[SEP]", {{"ids", {kSep}}}}}}};
  root["decoder"] = {
      {"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}};
  WriteFile(dir.path() / "tokenizer.json", root.dump());
  TokenizerData data;
  data.kind = TokenizerData::Kind::kTokenizerJson;
  data.tokenizer_json = dir.path() / "tokenizer.json";
  return MakeTokenizer(data);
}

class WordPieceTokenizerTest : public ::testing::Test {
 protected:
  TempDir dir_;
  std::unique_ptr<Tokenizer> bert_ = TinyBert(dir_);
};

TEST_F(WordPieceTokenizerTest, LowercasesSplitsPunctuationAndAddsClsSep) {
  EXPECT_THAT(bert_->Encode("Hello, WORLD!", true),
              ElementsAre(kCls, kHello, kComma, kWorld, kUnk, kSep));
  EXPECT_THAT(bert_->Encode("Hello, WORLD!", false),
              ElementsAre(kHello, kComma, kWorld, kUnk));
  EXPECT_THAT(bert_->Encode("", true), ElementsAre(kCls, kSep));
  EXPECT_EQ(bert_->Special().cls, kCls);
  EXPECT_EQ(bert_->Special().sep, kSep);
  EXPECT_EQ(bert_->Special().pad, kPad);
  EXPECT_EQ(bert_->Special().unk, kUnk);
}

TEST_F(WordPieceTokenizerTest, GreedyLongestMatchWithContinuations) {
  EXPECT_THAT(bert_->Encode("unaffable worlds", false),
              ElementsAre(kUn, kAff, kAble, kWorld, kS));
  // One unmatched remainder turns the whole word into [UNK].
  EXPECT_THAT(bert_->Encode("unaffablex hello", false),
              ElementsAre(kUnk, kHello));
  // More than max_input_chars_per_word (12) characters.
  EXPECT_THAT(bert_->Encode("unaffableable", false), ElementsAre(kUnk));
}

TEST_F(WordPieceTokenizerTest, StripsAccentsAndHandlesCjkAndControls) {
  // "Über" and "naïve" (precomposed), "NAI\u0308VE" (combining diaeresis).
  EXPECT_THAT(bert_->Encode("\xC3\x9C"
                            "ber na\xC3\xAF"
                            "ve NAI\xCC\x88VE",
                            false),
              ElementsAre(kUber, kNaive, kNaive));
  // CJK ideographs become words of their own; "İ" decomposes to "I" plus a
  // combining dot, which strip_accents drops before lowercasing.
  EXPECT_THAT(bert_->Encode("a\xE4\xB8\xAD"
                            "a \xC4\xB0",
                            false),
              ElementsAre(kA, kZhong, kA, kIi));
  // Control characters vanish; tab and newline separate words; invalid
  // UTF-8 becomes U+FFFD, which clean_text drops.
  EXPECT_THAT(bert_->Encode("hel\x01lo\tworld\n\xff.", false),
              ElementsAre(kHello, kWorld, kDot));
}

TEST_F(WordPieceTokenizerTest, SpecialTokensInTextAreNotNormalized) {
  EXPECT_THAT(bert_->Encode("hello[SEP]world [MASK]", false),
              ElementsAre(kHello, kSep, kWorld, kMask));
  // Lowercase "[sep]" is ordinary text: "[", "sep" (unknown), "]".
  EXPECT_THAT(bert_->Encode("[sep]", false), ElementsAre(kUnk, kUnk, kUnk));
}

TEST_F(WordPieceTokenizerTest, DecodeJoinsWordsAndContinuations) {
  const auto ids = bert_->Encode("Unaffable worlds, hello.", true);
  EXPECT_EQ(bert_->Decode(ids, true), "unaffable worlds, hello.");
  EXPECT_EQ(bert_->Decode(ids, false), "[CLS] unaffable worlds, hello. [SEP]");
  const std::vector<int32_t> bad = {kHello, 99};
  EXPECT_THROW(bert_->Decode(bad, false), TokenizerError);
  EXPECT_EQ(bert_->TokenToId("##aff"), kAff);
  EXPECT_EQ(bert_->TokenToId("[MASK]"), kMask);
  EXPECT_EQ(bert_->IdToToken(kAble), "##able");
  EXPECT_EQ(bert_->VocabSize(), 18);
}

}  // namespace
}  // namespace quantd::engine::tokenizer
