// The tokenizers as the engine gets them: io::OpenModel fills TokenizerData
// from the real models (GGUF metadata for SmolLM2, tokenizer.json for
// MiniLM), MakeTokenizer builds them, and the ids match the reference.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "worker/engine/io/model_loader.h"
#include "worker/engine/tokenizer/tokenizer.h"
#include "worker/engine/tokenizer/tokenizer_test_util.h"

namespace quantd::engine::tokenizer {
namespace {

using test_util::FirstMismatch;
using test_util::MiniLmDir;
using test_util::NormalizeCrlf;
using test_util::ReadFile;
using test_util::SmolLm2Gguf;
using test_util::SmolLm2ReferenceWikiIds;
using test_util::TempDir;
using test_util::WikiText;
using ::testing::ElementsAre;

TEST(TokenizerModelLoaderTest, SmolLm2GgufMatchesReferenceOnWikiText) {
  ASSERT_TRUE(std::filesystem::exists(SmolLm2Gguf()))
      << SmolLm2Gguf() << " is missing; run scripts/bootstrap";
  const io::LoadedModel model = io::OpenModel(SmolLm2Gguf());
  ASSERT_EQ(model.tokenizer.kind, TokenizerData::Kind::kGgufBpe);
  EXPECT_EQ(model.tokenizer.pre, "smollm");
  auto tokenizer = MakeTokenizer(model.tokenizer);
  EXPECT_EQ(tokenizer->VocabSize(), 49152);
  EXPECT_EQ(tokenizer->Special().bos, 1);
  EXPECT_EQ(tokenizer->Special().eos, 2);
  // SmolLM2's GGUF does not ask for a BOS.
  EXPECT_THAT(tokenizer->Encode("<|im_start|>user", true),
              ElementsAre(1, tokenizer->TokenToId("user")));

  TempDir dir;
  const auto want = SmolLm2ReferenceWikiIds(dir.path());
  const std::string text = NormalizeCrlf(ReadFile(WikiText("wiki.test.raw")));
  const auto ids = tokenizer->Encode(text, false);
  EXPECT_EQ(FirstMismatch(ids, want, *tokenizer), -1);
  EXPECT_EQ(tokenizer->Decode(ids, false), text);
}

TEST(TokenizerModelLoaderTest, MiniLmDirectoryGivesBertTokenizer) {
  ASSERT_TRUE(std::filesystem::exists(MiniLmDir() / "tokenizer.json"))
      << MiniLmDir() << " is incomplete; run scripts/bootstrap";
  const io::LoadedModel model = io::OpenModel(MiniLmDir());
  ASSERT_EQ(model.tokenizer.kind, TokenizerData::Kind::kTokenizerJson);
  auto tokenizer = MakeTokenizer(model.tokenizer);
  EXPECT_EQ(tokenizer->VocabSize(), 30522);
  EXPECT_EQ(tokenizer->Special().cls, 101);
  EXPECT_EQ(tokenizer->Special().sep, 102);
  EXPECT_EQ(tokenizer->Special().pad, 0);
  EXPECT_EQ(tokenizer->Special().unk, 100);
  // Ids checked against HF tokenizers' encode of the same sentence.
  EXPECT_THAT(tokenizer->Encode("The Café's 3 tokenizers!", true),
              ElementsAre(101, 1996, 7668, 1005, 1055, 1017, 19204, 17629, 2015,
                          999, 102));
}

}  // namespace
}  // namespace quantd::engine::tokenizer
