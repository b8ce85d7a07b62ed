#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "worker/engine/tokenizer/byte_level.h"
#include "worker/engine/tokenizer/tokenizer.h"
#include "worker/engine/tokenizer/tokenizer_test_util.h"

namespace quantd::engine::tokenizer {
namespace {

using test_util::TempDir;
using test_util::WriteFile;

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A tiny byte-level BPE: ids 0..255 are the bytes, then the merged tokens
// below, then two added tokens.
constexpr int32_t kT = 256;     // "Ġt"
constexpr int32_t kHe = 257;    // "he"
constexpr int32_t kThe = 258;   // "Ġthe"
constexpr int32_t kAa = 259;    // "aa"
constexpr int32_t k12 = 260;    // "12"
constexpr int32_t kEnd = 261;   // "<|end|>", special
constexpr int32_t kUser = 262;  // "<user>", not special

std::vector<std::string> TinyTokens() {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) {
    tokens.push_back(internal::ByteLevelEncode(std::string(1, char(b))));
  }
  for (const char* t : {"Ġt", "he", "Ġthe", "aa", "12", "<|end|>", "<user>"}) {
    tokens.push_back(t);
  }
  return tokens;
}

const std::vector<std::string> kTinyMerges = {"Ġ t", "h e", "Ġt he", "a a",
                                              "1 2"};

TokenizerData TinyGguf(const std::string& pre) {
  TokenizerData data;
  data.kind = TokenizerData::Kind::kGgufBpe;
  data.gguf_path = "tiny.gguf";
  data.model = "gpt2";
  data.pre = pre;
  data.tokens = TinyTokens();
  data.token_types.assign(data.tokens.size(), 1);
  data.token_types[kEnd] = 3;
  data.token_types[kUser] = 4;
  data.merges = kTinyMerges;
  data.eos_id = kEnd;
  return data;
}

// The same tokenizer as an HF tokenizer.json, with a BOS template.
nlohmann::json TinyJson() {
  nlohmann::json vocab = nlohmann::json::object();
  const auto tokens = TinyTokens();
  for (int32_t id = 0; id < kEnd; ++id) {
    vocab[tokens[id]] = id;
  }
  nlohmann::json root;
  root["model"] = {{"type", "BPE"}, {"vocab", vocab}, {"merges", kTinyMerges}};
  root["added_tokens"] = {
      {{"id", kEnd}, {"content", "<|end|>"}, {"special", true}},
      {{"id", kUser}, {"content", "<user>"}, {"special", false}}};
  root["pre_tokenizer"] = {
      {"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  root["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single",
       {{{"SpecialToken", {{"id", "<|end|>"}}}},
        {{"Sequence", {{"id", "A"}}}}}},
      {"special_tokens", {{"<|end|>", {{"ids", {kEnd}}}}}}};
  return root;
}

std::vector<int32_t> Bytes(std::string_view text) {
  return std::vector<int32_t>(text.begin(), text.end());
}

TEST(BpeTokenizerTest, AppliesMergesByRankLeftmostFirst) {
  auto tokenizer = MakeTokenizer(TinyGguf("gpt2"));
  EXPECT_THAT(tokenizer->Encode(" the", false), ElementsAre(kThe));
  EXPECT_THAT(tokenizer->Encode(" to", false), ElementsAre(kT, 'o'));
  EXPECT_THAT(tokenizer->Encode("aaa", false), ElementsAre(kAa, 'a'));
  EXPECT_THAT(tokenizer->Encode("aaaa", false), ElementsAre(kAa, kAa));
  // "the" without a space: "he" merges, "t" stays.
  EXPECT_THAT(tokenizer->Encode("the", false), ElementsAre('t', kHe));
  EXPECT_EQ(tokenizer->VocabSize(), 263);
}

TEST(BpeTokenizerTest, MatchesAddedTokensInsideText) {
  auto tokenizer = MakeTokenizer(TinyGguf("gpt2"));
  EXPECT_THAT(tokenizer->Encode("a<|end|>b<user><|end|>", false),
              ElementsAre('a', kEnd, 'b', kUser, kEnd));
  // A partial match is plain text.
  EXPECT_EQ(tokenizer->Encode("<|end|", false), Bytes("<|end|"));
  const std::vector<int32_t> ids = {'a', kEnd, kUser};
  EXPECT_EQ(tokenizer->Decode(ids, false), "a<|end|><user>");
  EXPECT_EQ(tokenizer->Decode(ids, true), "a<user>");
}

TEST(BpeTokenizerTest, EmptyTextGivesOnlyPostProcessorIds) {
  TempDir dir;
  WriteFile(dir.path() / "tokenizer.json", TinyJson().dump());
  TokenizerData data;
  data.kind = TokenizerData::Kind::kTokenizerJson;
  data.tokenizer_json = dir.path() / "tokenizer.json";
  auto tokenizer = MakeTokenizer(data);
  EXPECT_TRUE(tokenizer->Encode("", false).empty());
  EXPECT_THAT(tokenizer->Encode("", true), ElementsAre(kEnd));
  EXPECT_THAT(tokenizer->Encode(" the", true), ElementsAre(kEnd, kThe));
  EXPECT_EQ(tokenizer->Decode(std::vector<int32_t>{}, false), "");
}

TEST(BpeTokenizerTest, GgufAddBosAndEos) {
  TokenizerData data = TinyGguf("gpt2");
  data.bos_id = kUser;
  data.add_bos = true;
  data.add_eos = true;
  auto tokenizer = MakeTokenizer(data);
  EXPECT_THAT(tokenizer->Encode("aa", true), ElementsAre(kUser, kAa, kEnd));
  EXPECT_EQ(tokenizer->Special().bos, kUser);
  EXPECT_EQ(tokenizer->Special().eos, kEnd);
}

TEST(BpeTokenizerTest, InvalidUtf8IsEncodedByteByByteAndRoundTrips) {
  auto tokenizer = MakeTokenizer(TinyGguf("smollm"));
  const std::string text = "\xff\xfe the\xc3 a\xe2\x82";
  const auto ids = tokenizer->Encode(text, false);
  EXPECT_THAT(ids, ElementsAre(0xff, 0xfe, kThe, 0xc3, ' ', 'a', 0xe2, 0x82));
  EXPECT_EQ(tokenizer->Decode(ids, false), text);
}

TEST(BpeTokenizerTest, SmollmIsolatesEveryDigitGpt2DoesNot) {
  auto smollm = MakeTokenizer(TinyGguf("smollm"));
  auto gpt2 = MakeTokenizer(TinyGguf("gpt2"));
  // GPT-2 keeps " 12" as one piece, so "1 2" merges; smollm splits it into
  // " ", "1", "2" first.
  EXPECT_THAT(gpt2->Encode("x 12", false), ElementsAre('x', ' ', k12));
  EXPECT_THAT(smollm->Encode("x 12", false), ElementsAre('x', ' ', '1', '2'));
  // Any \p{N}: "½" (No) is isolated too, its two bytes stay apart.
  EXPECT_THAT(smollm->Encode(" \xc2\xbd", false), ElementsAre(' ', 0xc2, 0xbd));
}

TEST(BpeTokenizerTest, DecodeOfEncodeIsIdentityOnRandomBytes) {
  auto tokenizer = MakeTokenizer(TinyGguf("smollm"));
  std::mt19937 rng(1234);
  const std::string alphabet = "the aa 12 \n\t<|end|>\xc3\xa9\xe2\x82\xac\xff";
  for (int round = 0; round < 300; ++round) {
    std::string text;
    const int length = rng() % 40;
    for (int i = 0; i < length; ++i) {
      text.push_back(round % 2 ? char(rng() % 256)
                               : alphabet[rng() % alphabet.size()]);
    }
    EXPECT_EQ(tokenizer->Decode(tokenizer->Encode(text, false), false), text)
        << "round " << round;
  }
}

TEST(BpeTokenizerTest, ConcurrentEncodesAgree) {
  auto tokenizer = MakeTokenizer(TinyGguf("smollm"));
  const std::string text = "the aa 12 aaa the<|end|>\xff the aaaa 1212";
  const auto expected = tokenizer->Encode(text, false);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        if (tokenizer->Encode(text, false) != expected) {
          ++mismatches[t];
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_THAT(mismatches, ElementsAre(0, 0, 0, 0));
}

TEST(BpeTokenizerTest, LookupsAndDecodeErrors) {
  auto tokenizer = MakeTokenizer(TinyGguf("gpt2"));
  EXPECT_EQ(tokenizer->TokenToId("Ġthe"), kThe);
  EXPECT_EQ(tokenizer->TokenToId("<|end|>"), kEnd);
  EXPECT_EQ(tokenizer->TokenToId("nope"), -1);
  EXPECT_EQ(tokenizer->IdToToken(kThe), "Ġthe");
  EXPECT_EQ(tokenizer->IdToToken(100000), "");
  const std::vector<int32_t> bad = {1, 263};
  EXPECT_THROW(tokenizer->Decode(bad, false), TokenizerError);
}

std::string GgufError(TokenizerData data) {
  try {
    MakeTokenizer(data);
  } catch (const TokenizerError& e) {
    return e.what();
  }
  return "no error";
}

TEST(BpeTokenizerTest, MalformedGgufMetadataNamesFileAndKey) {
  TokenizerData data = TinyGguf("llama-bpe");
  EXPECT_THAT(GgufError(data),
              AllOf(HasSubstr("tiny.gguf"), HasSubstr("tokenizer.ggml.pre"),
                    HasSubstr("llama-bpe")));
  data = TinyGguf("gpt2");
  data.model = "llama";
  EXPECT_THAT(GgufError(data), HasSubstr("tokenizer.ggml.model"));
  data = TinyGguf("gpt2");
  data.merges[2] = "Ġthe";
  EXPECT_THAT(GgufError(data), HasSubstr("tokenizer.ggml.merges[2]"));
  data = TinyGguf("gpt2");
  data.merges[1] = "h zz";
  EXPECT_THAT(GgufError(data),
              AllOf(HasSubstr("merges[1]"), HasSubstr("'zz'")));
  data = TinyGguf("gpt2");
  data.token_types.pop_back();
  EXPECT_THAT(GgufError(data), HasSubstr("tokenizer.ggml.token_type"));
  data = TinyGguf("gpt2");
  data.eos_id = 5000;
  EXPECT_THAT(GgufError(data), HasSubstr("eos id 5000"));
  data = TinyGguf("gpt2");
  data.tokens.clear();
  EXPECT_THAT(GgufError(data), HasSubstr("tokenizer.ggml.tokens"));
  EXPECT_THAT(GgufError(TokenizerData{}), HasSubstr("no tokenizer"));
}

}  // namespace
}  // namespace quantd::engine::tokenizer
