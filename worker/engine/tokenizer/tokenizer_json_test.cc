// Malformed and unsupported tokenizer.json files: every error names the
// file and the field.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "worker/engine/tokenizer/tokenizer.h"
#include "worker/engine/tokenizer/tokenizer_test_util.h"

namespace quantd::engine::tokenizer {
namespace {

using test_util::TempDir;
using test_util::WriteFile;

using ::testing::AllOf;
using ::testing::HasSubstr;
using json = nlohmann::json;

json ValidBpe() {
  json root;
  root["model"] = {{"type", "BPE"},
                   {"vocab", {{"a", 0}, {"b", 1}, {"ab", 2}}},
                   {"merges", {"a b"}}};
  root["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}};
  return root;
}

json ValidWordPiece() {
  json root;
  root["model"] = {{"type", "WordPiece"},
                   {"unk_token", "[UNK]"},
                   {"vocab", {{"[UNK]", 0}, {"a", 1}}}};
  root["normalizer"] = {{"type", "BertNormalizer"}, {"lowercase", true}};
  root["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  return root;
}

class TokenizerJsonTest : public ::testing::Test {
 protected:
  // The error MakeTokenizer gives for `content`, or "no error".
  std::string ErrorFor(const std::string& content) {
    WriteFile(path(), content);
    TokenizerData data;
    data.kind = TokenizerData::Kind::kTokenizerJson;
    data.tokenizer_json = path();
    try {
      MakeTokenizer(data);
    } catch (const TokenizerError& e) {
      return e.what();
    }
    return "no error";
  }
  std::filesystem::path path() const { return dir_.path() / "tok.json"; }

  TempDir dir_;
};

TEST_F(TokenizerJsonTest, ValidFilesLoad) {
  EXPECT_EQ(ErrorFor(ValidBpe().dump()), "no error");
  EXPECT_EQ(ErrorFor(ValidWordPiece().dump()), "no error");
}

TEST_F(TokenizerJsonTest, MissingFile) {
  TokenizerData data;
  data.kind = TokenizerData::Kind::kTokenizerJson;
  data.tokenizer_json = dir_.path() / "absent.json";
  EXPECT_THROW(
      {
        try {
          MakeTokenizer(data);
        } catch (const TokenizerError& e) {
          EXPECT_THAT(e.what(), HasSubstr("absent.json"));
          throw;
        }
      },
      TokenizerError);
}

TEST_F(TokenizerJsonTest, BadJson) {
  EXPECT_THAT(ErrorFor("{\"model\": {"),
              AllOf(HasSubstr(path().string()), HasSubstr("invalid JSON")));
  EXPECT_THAT(ErrorFor("[1, 2]"), HasSubstr("not a JSON object"));
}

TEST_F(TokenizerJsonTest, MissingVocab) {
  json root = ValidBpe();
  root["model"].erase("vocab");
  EXPECT_THAT(
      ErrorFor(root.dump()),
      AllOf(HasSubstr(path().string()), HasSubstr("'model.vocab' is missing")));
  root = ValidWordPiece();
  root["model"].erase("vocab");
  EXPECT_THAT(ErrorFor(root.dump()), HasSubstr("'model.vocab' is missing"));
  EXPECT_THAT(ErrorFor("{}"), HasSubstr("'model' is missing"));
}

TEST_F(TokenizerJsonTest, MergeWithUnknownToken) {
  json root = ValidBpe();
  root["model"]["merges"] = {"a b", "a zz"};
  EXPECT_THAT(ErrorFor(root.dump()),
              AllOf(HasSubstr(path().string()), HasSubstr("merges[1]"),
                    HasSubstr("'zz' is not in the vocabulary")));
  root["model"]["merges"] = {"b a"};  // "ba" is not a token.
  EXPECT_THAT(ErrorFor(root.dump()), HasSubstr("merged token 'ba'"));
  root["model"]["merges"] = {"ab"};
  EXPECT_THAT(ErrorFor(root.dump()), HasSubstr("'model.merges[0]'"));
  root["model"]["merges"] = json::array({json::array({"a", "b"})});
  EXPECT_EQ(ErrorFor(root.dump()), "no error");
}

TEST_F(TokenizerJsonTest, BadVocabEntries) {
  json root = ValidBpe();
  root["model"]["vocab"]["c"] = -1;
  EXPECT_THAT(ErrorFor(root.dump()), HasSubstr("'model.vocab.c'"));
  root["model"]["vocab"]["c"] = 0;
  EXPECT_THAT(ErrorFor(root.dump()), HasSubstr("to id 0"));
  root["model"]["vocab"]["c"] = "x";
  EXPECT_THAT(ErrorFor(root.dump()), HasSubstr("is not an integer"));
}

// What transformers' tokenizer conversion writes for a byte-level BPE
// model: the optional prefix/suffix as empty strings, which mean "none".
TEST_F(TokenizerJsonTest, EmptyPrefixAndSuffixAreTheDefault) {
  json root = ValidBpe();
  root["model"]["continuing_subword_prefix"] = "";
  root["model"]["end_of_word_suffix"] = "";
  root["model"]["dropout"] = nullptr;
  root["model"]["unk_token"] = nullptr;
  root["model"]["fuse_unk"] = false;
  root["model"]["ignore_merges"] = false;
  EXPECT_EQ(ErrorFor(root.dump()), "no error");
  root["model"]["continuing_subword_prefix"] = "##";
  EXPECT_THAT(ErrorFor(root.dump()),
              HasSubstr("'model.continuing_subword_prefix'"));
  root["model"]["continuing_subword_prefix"] = "";
  root["model"]["end_of_word_suffix"] = "</w>";
  EXPECT_THAT(ErrorFor(root.dump()), HasSubstr("'model.end_of_word_suffix'"));
}

TEST_F(TokenizerJsonTest, UnsupportedPieces) {
  json root = ValidBpe();
  root["model"]["type"] = "Unigram";
  EXPECT_THAT(ErrorFor(root.dump()), HasSubstr("'model.type'"));
  root = ValidBpe();
  root["pre_tokenizer"] = {{"type", "Metaspace"}};
  EXPECT_THAT(ErrorFor(root.dump()), HasSubstr("'pre_tokenizer.type'"));
  root["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers", {{{"type", "ByteLevel"}}, {{"type", "Digits"}}}}};
  EXPECT_THAT(ErrorFor(root.dump()),
              HasSubstr("'pre_tokenizer.pretokenizers[0]'"));
  root["pre_tokenizer"] = {{"type", "Split"},
                           {"pattern", {{"Regex", "(unclosed"}}},
                           {"behavior", "Isolated"}};
  EXPECT_THAT(ErrorFor(root.dump()), HasSubstr("does not compile"));
  root = ValidBpe();
  root["normalizer"] = {{"type", "NFC"}};
  EXPECT_THAT(ErrorFor(root.dump()), HasSubstr("'normalizer'"));
  root = ValidBpe();
  root["model"]["byte_fallback"] = true;
  EXPECT_THAT(ErrorFor(root.dump()), HasSubstr("'model.byte_fallback'"));
}

TEST_F(TokenizerJsonTest, BadAddedTokensAndPostProcessor) {
  json root = ValidBpe();
  root["added_tokens"] = {
      {{"id", 3}, {"content", "<s>"}, {"single_word", true}}};
  EXPECT_THAT(ErrorFor(root.dump()),
              HasSubstr("'added_tokens[0].single_word'"));
  root["added_tokens"] = {{{"content", "<s>"}}};
  EXPECT_THAT(ErrorFor(root.dump()),
              HasSubstr("'added_tokens[0].id' is missing"));
  root = ValidBpe();
  root["post_processor"] = {{"type", "TemplateProcessing"},
                            {"single", {{{"SpecialToken", {{"id", "<s>"}}}}}},
                            {"special_tokens", json::object()}};
  EXPECT_THAT(ErrorFor(root.dump()),
              HasSubstr("'post_processor.special_tokens.<s>' is missing"));
  root["post_processor"] = {
      {"type", "BertProcessing"}, {"cls", {"[CLS]", 7}}, {"sep", {"[SEP]", 1}}};
  EXPECT_THAT(ErrorFor(root.dump()), HasSubstr("post-processor id 7"));
}

TEST_F(TokenizerJsonTest, WordPieceNeedsItsUnkToken) {
  json root = ValidWordPiece();
  root["model"]["unk_token"] = "<unk>";
  EXPECT_THAT(ErrorFor(root.dump()),
              AllOf(HasSubstr(path().string()), HasSubstr("'model.unk_token'"),
                    HasSubstr("<unk>")));
  root = ValidWordPiece();
  root["pre_tokenizer"] = {{"type", "Whitespace"}};
  EXPECT_THAT(ErrorFor(root.dump()), HasSubstr("'pre_tokenizer.type'"));
}

}  // namespace
}  // namespace quantd::engine::tokenizer
