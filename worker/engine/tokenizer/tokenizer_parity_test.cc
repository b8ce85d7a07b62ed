// Parity with the Python reference tokenizers (HF `tokenizers`) on the real
// models and the WikiText-2 text. Needs the models installed by
// scripts/bootstrap; fails (never skips) when they are missing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>

#include "worker/engine/tokenizer/tokenizer.h"
#include "worker/engine/tokenizer/tokenizer_test_util.h"

namespace quantd::engine::tokenizer {
namespace {

using test_util::FirstMismatch;
using test_util::MiniLmDir;
using test_util::NormalizeCrlf;
using test_util::Quote;
using test_util::ReadFile;
using test_util::ReadInt32File;
using test_util::RunPython;
using test_util::SmolLm2Gguf;
using test_util::SmolLm2ReferenceWikiIds;
using test_util::SourceDir;
using test_util::TempDir;
using test_util::WikiText;
using test_util::WriteFile;

namespace fs = std::filesystem;

void AppendUtf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out += {char(0xC0 | (cp >> 6)), char(0x80 | (cp & 0x3F))};
  } else if (cp < 0x10000) {
    out += {char(0xE0 | (cp >> 12)), char(0x80 | ((cp >> 6) & 0x3F)),
            char(0x80 | (cp & 0x3F))};
  } else {
    out += {char(0xF0 | (cp >> 18)), char(0x80 | ((cp >> 12) & 0x3F)),
            char(0x80 | ((cp >> 6) & 0x3F)), char(0x80 | (cp & 0x3F))};
  }
}

// Text that stresses pre-tokenization and normalization: unusual spaces,
// numerals of other scripts, contractions, accents, CJK, controls, emoji,
// special tokens, then every 13th code point of all planes, each inside,
// after and doubled next to letters, digits and spaces, 32 to a line.
// (Every code point, step 1, was checked once the same way: identical.)
std::string StressText() {
  std::string text =
      "It's 2024: they'll pay $1,234.56 (\xC2\xBD off) - don't! "
      "\xC2\xB2\xE2\x85\xA7 \xD9\xA3\xD9\xA4 \xEF\xBC\x91\xEF\xBC\x92\n\n\n"
      "  \t x\xC2\x85y \xE2\x80\xA8z\xE1\xA0\x8E w\xC2\xA0v \xE3\x80\x80u  \r\n"
      "Na\xC3\xAFve CAF\xC3\x89 \xC4\xB0stanbul \xCE\xA3\xCE\xA9 stra\xC3\x9F"
      "e \xE4\xB8\xAD\xE6\x96\x87 \xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4 "
      "\xF0\x9F\x98\x80\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD e\xCC\x81\xCC\xA3 "
      "\x01\x1F\x7F zero\xE2\x80\x8Bwidth <|im_start|>user<|im_end|>\n";
  int count = 0;
  for (char32_t cp = 0x20; cp < 0x110000; cp += 13) {
    if (cp >= 0xD800 && cp <= 0xDFFF) {
      continue;
    }
    std::string c;
    AppendUtf8(cp, c);
    text += "a" + c + "b " + c + c + " 1" + c;
    text += ++count % 32 == 0 ? "\n" : " ";
  }
  return text;
}

// Each test runs the reference once (ctest runs every test in a process of
// its own, so suite-wide setup would run it once per test anyway).
class SmolLm2ParityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(SmolLm2Gguf()))
        << SmolLm2Gguf() << " is missing; run scripts/bootstrap";
    ASSERT_TRUE(fs::exists(WikiText("wiki.test.raw")));
  }
  fs::path path(const char* name) const { return dir_.path() / name; }
  std::string WriteJsonAndMetadataArgs() const {
    return "--write-tokenizer-json " + Quote(path("tok.json")) +
           " --write-metadata " + Quote(path("meta.json"));
  }

  std::unique_ptr<Tokenizer> FromJson() const {
    TokenizerData data;
    data.kind = TokenizerData::Kind::kTokenizerJson;
    data.tokenizer_json = path("tok.json");
    return MakeTokenizer(data);
  }
  // The GGUF metadata as the model loader would hand it over.
  std::unique_ptr<Tokenizer> FromGgufMetadata() const {
    const auto meta = nlohmann::json::parse(ReadFile(path("meta.json")));
    TokenizerData data;
    data.kind = TokenizerData::Kind::kGgufBpe;
    data.gguf_path = SmolLm2Gguf();
    data.model = meta["model"];
    data.pre = meta["pre"];
    data.tokens = meta["tokens"].get<std::vector<std::string>>();
    data.token_types = meta["token_types"].get<std::vector<int32_t>>();
    data.merges = meta["merges"].get<std::vector<std::string>>();
    data.bos_id = meta["bos_id"];
    data.eos_id = meta["eos_id"];
    data.unk_id = meta["unk_id"];
    data.pad_id = meta["pad_id"];
    data.add_bos = meta["add_bos"];
    data.add_eos = meta["add_eos"];
    return MakeTokenizer(data);
  }

  // Runs the reference on wiki.test.raw (writing tok.json and meta.json for
  // the From* builders first), then compares.
  void ExpectWikiParity(
      const std::function<std::unique_ptr<Tokenizer>()>& make) const {
    const auto want =
        SmolLm2ReferenceWikiIds(dir_.path(), WriteJsonAndMetadataArgs());
    const auto tokenizer_ptr = make();
    const Tokenizer& tokenizer = *tokenizer_ptr;
    const std::string text = NormalizeCrlf(ReadFile(WikiText("wiki.test.raw")));
    const auto start = std::chrono::steady_clock::now();
    const std::vector<int32_t> ids = tokenizer.Encode(text, false);
    const std::chrono::duration<double> seconds =
        std::chrono::steady_clock::now() - start;
    // Throughput is informative only, never asserted.
    std::printf("[ info ] wiki.test.raw: %zu ids in %.3f s (%.0f tokens/s)\n",
                ids.size(), seconds.count(), ids.size() / seconds.count());
    EXPECT_EQ(FirstMismatch(ids, want, tokenizer), -1);
    EXPECT_EQ(tokenizer.Decode(ids, false), text);
  }

  TempDir dir_;
};

TEST_F(SmolLm2ParityTest, TokenizerJsonMatchesReferenceOnWikiText) {
  ExpectWikiParity([this] { return FromJson(); });
}

TEST_F(SmolLm2ParityTest, GgufMetadataMatchesReferenceOnWikiText) {
  ExpectWikiParity([this] { return FromGgufMetadata(); });
  auto tokenizer = FromGgufMetadata();
  EXPECT_EQ(tokenizer->VocabSize(), 49152);
  EXPECT_EQ(tokenizer->Special().bos, 1);
  EXPECT_EQ(tokenizer->Special().eos, 2);
}

TEST_F(SmolLm2ParityTest, MatchesReferenceOnStressText) {
  WriteFile(path("stress.txt"), StressText());
  const fs::path script =
      SourceDir() / "tests/reference/tokenizer/smollm2_reference.py";
  ASSERT_EQ(RunPython(Quote(script) + " --gguf " + Quote(SmolLm2Gguf()) + " " +
                      WriteJsonAndMetadataArgs() + " --text " +
                      Quote(path("stress.txt")) + " --ids-out " +
                      Quote(path("stress.bin"))),
            0);
  const std::string text = StressText();
  const auto want = ReadInt32File(path("stress.bin"));
  for (const auto& tokenizer : {FromJson(), FromGgufMetadata()}) {
    // No round trip here: SmolLM2 has no token for some bytes in the text
    // (e.g. 0xF1), which are dropped.
    EXPECT_EQ(FirstMismatch(tokenizer->Encode(text, false), want, *tokenizer),
              -1);
  }
}

// MiniLM: one [CLS] ... [SEP] sequence per non-blank line, as sentence
// encoders are fed (see minilm_reference.py).
std::vector<int32_t> EncodeLines(const Tokenizer& tokenizer,
                                 const std::string& text) {
  std::vector<int32_t> out = {0};
  size_t begin = 0;
  while (begin <= text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) {
      end = text.size();
    }
    const std::string_view line(text.data() + begin, end - begin);
    if (line.find_first_not_of(" \t\r") != std::string_view::npos) {
      const auto ids = tokenizer.Encode(line, true);
      ++out[0];
      out.push_back(static_cast<int32_t>(ids.size()));
      out.insert(out.end(), ids.begin(), ids.end());
    }
    begin = end + 1;
  }
  return out;
}

void ExpectMiniLmParity(const fs::path& text_path, const TempDir& dir) {
  ASSERT_TRUE(fs::exists((MiniLmDir() / "tokenizer.json")))
      << (MiniLmDir() / "tokenizer.json")
      << " is missing; run scripts/bootstrap";
  ASSERT_TRUE(fs::exists(text_path)) << text_path;
  const fs::path script =
      SourceDir() / "tests/reference/tokenizer/minilm_reference.py";
  const fs::path ids_path = dir.path() / "minilm.bin";
  ASSERT_EQ(RunPython(Quote(script) + " --tokenizer-json " +
                      Quote((MiniLmDir() / "tokenizer.json")) + " --text " +
                      Quote(text_path) + " --ids-out " + Quote(ids_path)),
            0);
  TokenizerData data;
  data.kind = TokenizerData::Kind::kTokenizerJson;
  data.tokenizer_json = (MiniLmDir() / "tokenizer.json");
  auto tokenizer = MakeTokenizer(data);
  const auto want = ReadInt32File(ids_path);
  const auto start = std::chrono::steady_clock::now();
  const auto got = EncodeLines(*tokenizer, ReadFile(text_path));
  const std::chrono::duration<double> seconds =
      std::chrono::steady_clock::now() - start;
  std::printf("[ info ] %s: %d lines, %zu ids in %.3f s\n",
              text_path.filename().c_str(), got[0], got.size(),
              seconds.count());
  EXPECT_GT(got[0], 10);
  EXPECT_EQ(FirstMismatch(got, want, *tokenizer), -1);
}

TEST(MiniLmParityTest, MatchesReferenceOnWikiValidPerLine) {
  TempDir dir;
  ExpectMiniLmParity(WikiText("wiki.valid.tokens"), dir);
}

TEST(MiniLmParityTest, MatchesReferenceOnStressText) {
  TempDir dir;
  WriteFile(dir.path() / "stress.txt", StressText());
  ExpectMiniLmParity(dir.path() / "stress.txt", dir);
}

}  // namespace
}  // namespace quantd::engine::tokenizer
