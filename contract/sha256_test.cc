#include "worker/engine/io/sha256.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "worker/engine/io/format_error.h"
#include "worker/engine/io/io_test_util.h"
#include "worker/engine/io/mapped_file.h"

namespace quantd::engine::io {
namespace {

using ::testing::HasSubstr;

std::string HexOf(std::string_view text) {
  Sha256 hash;
  hash.Update(text);
  return Sha256::ToHex(hash.Finish());
}

TEST(Sha256Test, MatchesFips180Vectors) {
  EXPECT_EQ(HexOf(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexOf("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexOf("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(HexOf(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, PaddingBoundaries) {
  // 55, 56 and 64 bytes straddle the one-or-two padding blocks cases.
  EXPECT_EQ(HexOf(std::string(55, 'a')),
            "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  EXPECT_EQ(HexOf(std::string(56, 'a')),
            "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  EXPECT_EQ(HexOf(std::string(64, 'a')),
            "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

TEST(Sha256Test, IncrementalUpdatesEqualOneShot) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text.push_back(static_cast<char>(i * 7));
  Sha256 pieces;
  for (size_t begin = 0; begin < text.size(); begin += 37) {
    pieces.Update(std::string_view(text).substr(begin, 37));
  }
  EXPECT_EQ(Sha256::ToHex(pieces.Finish()), HexOf(text));
}

TEST(Sha256Test, FilesMatchPythonHashlib) {
  const auto reference = testing::ReadJsonFixture("minilm_reference.json");
  const auto model_dir = testing::SourceDir() / "models" / "all-minilm-l6-v2";
  for (const auto& [name, digest] : reference.at("sha256").items()) {
    EXPECT_EQ(Sha256File(model_dir / name), digest.get<std::string>()) << name;
  }
}

TEST(Sha256Test, MissingFileNamesTheFile) {
  testing::TempDir dir;
  try {
    Sha256File(dir.path() / "absent.bin");
    FAIL() << "expected FormatError";
  } catch (const FormatError& error) {
    EXPECT_THAT(error.what(), HasSubstr("absent.bin: cannot open"));
  }
}

TEST(MappedFileTest, MapsContentsAndEmptyFiles) {
  testing::TempDir dir;
  const MappedFile file(dir.Write("data.bin", "hello"));
  ASSERT_EQ(file.size_bytes(), 5u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(file.data().data()), 5),
            "hello");
  const MappedFile empty(dir.Write("empty.bin", ""));
  EXPECT_EQ(empty.size_bytes(), 0u);
  EXPECT_TRUE(empty.data().empty());
}

TEST(MappedFileTest, RejectsDirectories) {
  testing::TempDir dir;
  EXPECT_THROW(MappedFile file(dir.path()), FormatError);
}

}  // namespace
}  // namespace quantd::engine::io
