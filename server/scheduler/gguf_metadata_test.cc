#include "server/scheduler/gguf_metadata.h"

#include <cstdlib>
#include <filesystem>

#include "gtest/gtest.h"
#include "server/scheduler/scheduler_test_util.h"

namespace quantd::scheduler {
namespace {

using testing_util::GgufWriter;
using testing_util::TempDir;
using testing_util::WriteFile;

GgufWriter TinyLlama() {
  GgufWriter writer;
  writer
      .U32("llama.embedding_length", 64)  // before the architecture
      .Str("general.architecture", "llama")
      .U32("llama.block_count", 2)
      .U32("llama.feed_forward_length", 128)
      .U32("llama.attention.head_count", 4)
      .StrArray("tokenizer.ggml.tokens", {"a", "b", "c"});
  return writer;
}

TEST(GgufMetadataTest, ReadsShapeFields) {
  TempDir dir;
  TinyLlama().WriteTo(dir.path() / "m.gguf");
  auto summary = ReadGgufSummary((dir.path() / "m.gguf").string(), "model.uri");
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->architecture, "llama");
  EXPECT_EQ(summary->embedding_length, 64u);
  EXPECT_EQ(summary->block_count, 2u);
  EXPECT_EQ(summary->feed_forward_length, 128u);
  EXPECT_EQ(summary->head_count, 4u);
  EXPECT_EQ(summary->vocab_size, 3u);
}

TEST(GgufMetadataTest, EveryTruncationIsAnError) {
  TempDir dir;
  const std::string bytes = TinyLlama().Bytes();
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    WriteFile(dir.path() / "cut.gguf", bytes.substr(0, cut));
    auto summary = ReadGgufSummary((dir.path() / "cut.gguf").string(), "model");
    ASSERT_FALSE(summary.ok()) << "cut at " << cut;
    EXPECT_EQ(summary.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(summary.status().message().substr(0, 7), "model: ");
  }
}

TEST(GgufMetadataTest, RejectsBadMagicVersionAndHugeCounts) {
  TempDir dir;
  std::string bytes = TinyLlama().Bytes();
  std::string bad_magic = bytes;
  bad_magic[0] = 'X';
  WriteFile(dir.path() / "a.gguf", bad_magic);
  EXPECT_FALSE(ReadGgufSummary((dir.path() / "a.gguf").string(), "m").ok());

  std::string bad_version = bytes;
  bad_version[4] = 9;
  WriteFile(dir.path() / "b.gguf", bad_version);
  EXPECT_FALSE(ReadGgufSummary((dir.path() / "b.gguf").string(), "m").ok());

  std::string huge_kv = bytes;
  for (int i = 16; i < 24; ++i) huge_kv[i] = '\xff';
  WriteFile(dir.path() / "c.gguf", huge_kv);
  EXPECT_FALSE(ReadGgufSummary((dir.path() / "c.gguf").string(), "m").ok());

  // A key whose length claims far more bytes than the file has.
  std::string huge_key = bytes.substr(0, 24) + std::string(8, '\x7f');
  WriteFile(dir.path() / "d.gguf", huge_key);
  EXPECT_FALSE(ReadGgufSummary((dir.path() / "d.gguf").string(), "m").ok());
}

TEST(GgufMetadataTest, ReadsTheRealSmolLM2Header) {
  const char* source = std::getenv("QUANTD_SOURCE_DIR");
  ASSERT_NE(source, nullptr) << "QUANTD_SOURCE_DIR is not set";
  const std::filesystem::path model =
      std::filesystem::path(source) /
      "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
  ASSERT_TRUE(std::filesystem::exists(model))
      << model << " is missing; run scripts/bootstrap";
  auto summary = ReadGgufSummary(model.string(), "model.uri");
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->architecture, "llama");
  EXPECT_EQ(summary->embedding_length, 576u);
  EXPECT_EQ(summary->block_count, 30u);
  EXPECT_EQ(summary->feed_forward_length, 1536u);
  EXPECT_EQ(summary->head_count, 9u);
  EXPECT_EQ(summary->vocab_size, 49152u);
}

}  // namespace
}  // namespace quantd::scheduler
