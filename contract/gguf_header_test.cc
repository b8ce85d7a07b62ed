#include "contract/gguf_header.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "contract/contract_test_util.h"
#include "contract/format_error.h"

namespace quantd::contract {
namespace {

using ::testing::HasSubstr;

template <typename T>
std::string Le(T value) {
  return std::string(reinterpret_cast<const char*>(&value), sizeof(T));
}
std::string Str(const std::string& text) {
  return Le<uint64_t>(text.size()) + text;
}

// A header of `pairs` (already encoded key, type, value) and no tensors.
std::string Header(const std::vector<std::string>& pairs,
                   uint32_t version = 3) {
  std::string bytes = "GGUF" + Le<uint32_t>(version) + Le<uint64_t>(0) +
                      Le<uint64_t>(pairs.size());
  for (const std::string& pair : pairs) bytes += pair;
  return bytes;
}
std::string U32(const std::string& key, uint32_t value) {
  return Str(key) + Le<uint32_t>(4) + Le<uint32_t>(value);
}
std::string Text(const std::string& key, const std::string& value) {
  return Str(key) + Le<uint32_t>(8) + Str(value);
}
std::string TextArray(const std::string& key,
                      const std::vector<std::string>& values) {
  std::string bytes = Str(key) + Le<uint32_t>(9) + Le<uint32_t>(8) +
                      Le<uint64_t>(values.size());
  for (const std::string& value : values) bytes += Str(value);
  return bytes;
}

std::string TinyLlama() {
  return Header({U32("llama.embedding_length", 64),
                 Text("general.architecture", "llama"),
                 U32("llama.block_count", 2),
                 TextArray("tokenizer.ggml.tokens", {"a", "b", "c"})});
}

TEST(GgufHeaderTest, ReadsVersionMetadataAndDefaultAlignment) {
  testing::TempDir dir;
  const GgufHeader header = ReadGgufHeader(dir.Write("m.gguf", TinyLlama()));
  EXPECT_EQ(header.version, 3u);
  EXPECT_EQ(header.tensor_count, 0u);
  EXPECT_EQ(header.alignment, GgufHeader::kDefaultAlignment);
  EXPECT_EQ(header.metadata.GetString("general.architecture"), "llama");
  EXPECT_EQ(header.metadata.GetInt("llama.embedding_length"), 64);
  EXPECT_EQ(header.metadata.GetStringArray("tokenizer.ggml.tokens").size(), 3u);
  EXPECT_TRUE(LooksLikeGguf(dir.path() / "m.gguf"));
  EXPECT_FALSE(LooksLikeGguf(dir.Write("x.bin", "GGU")));
}

TEST(GgufHeaderTest, EveryTruncationIsAFormatErrorNamingTheFile) {
  testing::TempDir dir;
  const std::string bytes = TinyLlama();
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    const auto file = dir.Write("cut.gguf", bytes.substr(0, cut));
    try {
      ReadGgufHeader(file);
      ADD_FAILURE() << "accepted a header cut at " << cut;
    } catch (const FormatError& error) {
      EXPECT_EQ(error.file(), file.string());
    }
  }
}

TEST(GgufHeaderTest, RejectsBadMagicVersionsCountsAndAlignment) {
  testing::TempDir dir;
  auto problem = [&](const std::string& bytes) -> std::string {
    try {
      ReadGgufHeader(dir.Write("bad.gguf", bytes));
    } catch (const FormatError& error) {
      return error.problem();
    }
    return "accepted";
  };
  std::string bad_magic = TinyLlama();
  bad_magic[0] = 'X';
  EXPECT_THAT(problem(bad_magic), HasSubstr("not a GGUF file"));
  EXPECT_THAT(problem(Header({}, 1)), HasSubstr("version 1"));
  EXPECT_THAT(problem(Header({}, 0x03000000)), HasSubstr("big-endian"));
  std::string huge_count = TinyLlama();
  for (int i = 16; i < 24; ++i) huge_count[i] = '\xff';
  EXPECT_THAT(problem(huge_count), HasSubstr("metadata count"));
  std::string huge_tensors = Header({});
  huge_tensors[8] = '\x7f';
  EXPECT_THAT(problem(huge_tensors), HasSubstr("tensor count"));
  EXPECT_THAT(problem(Header({U32("general.alignment", 24)})),
              HasSubstr("not a power of two"));
}

TEST(GgufHeaderTest, ReadsTheRealSmolLM2Header) {
  const char* source = std::getenv("QUANTD_SOURCE_DIR");
  ASSERT_NE(source, nullptr) << "QUANTD_SOURCE_DIR is not set";
  const std::filesystem::path model =
      std::filesystem::path(source) /
      "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
  ASSERT_TRUE(std::filesystem::exists(model))
      << model << " is missing; run scripts/bootstrap";
  const GgufHeader header = ReadGgufHeader(model);
  EXPECT_EQ(header.metadata.GetString("general.architecture"), "llama");
  EXPECT_EQ(header.metadata.GetInt("llama.embedding_length"), 576);
  EXPECT_EQ(header.metadata.GetInt("llama.block_count"), 30);
  EXPECT_EQ(header.metadata.GetInt("llama.feed_forward_length"), 1536);
  EXPECT_EQ(header.metadata.GetStringArray("tokenizer.ggml.tokens").size(),
            49152u);
  EXPECT_EQ(header.tensor_count, 272u);
}

}  // namespace
}  // namespace quantd::contract
