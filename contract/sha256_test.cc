#include "contract/sha256.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "contract/contract_test_util.h"
#include "contract/format_error.h"
#include "contract/mapped_file.h"

namespace quantd::contract {
namespace {

using ::testing::HasSubstr;

TEST(Sha256Test, MatchesFips180Vectors) {
  EXPECT_EQ(Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(
      Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, IncrementalUpdatesOfEitherKindEqualOneShot) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text.push_back(static_cast<char>(i * 7));
  Sha256 pieces;
  for (size_t begin = 0; begin < text.size(); begin += 37) {
    const std::string_view piece = std::string_view(text).substr(begin, 37);
    if (begin % 2 == 0) {
      pieces.Update(piece);
    } else {
      pieces.Update(std::as_bytes(std::span(piece.data(), piece.size())));
    }
  }
  EXPECT_EQ(pieces.FinishHex(), Sha256Hex(text));
}

TEST(Sha256Test, FileHashMatchesItsContentAcrossReadBuffers) {
  testing::TempDir dir;
  std::string content((9 << 20) + 17, 'x');  // Spans three read buffers.
  content[12345] = 'y';
  EXPECT_EQ(Sha256FileHex(dir.Write("big.bin", content)), Sha256Hex(content));
}

TEST(Sha256Test, MissingFileNamesTheFile) {
  testing::TempDir dir;
  try {
    Sha256FileHex(dir.path() / "absent.bin");
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
}  // namespace quantd::contract
