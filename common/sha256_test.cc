#include "common/sha256.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace quantd {
namespace {

TEST(Sha256Test, FileHashMatchesContent) {
  const std::string path =
      (std::filesystem::temp_directory_path() / "quantd_sha256_test.bin")
          .string();
  std::string content(3 << 20, 'x');  // Spans several read buffers.
  content[12345] = 'y';
  std::ofstream(path, std::ios::binary) << content;
  auto hex = Sha256FileHex(path);
  ASSERT_TRUE(hex.ok());
  EXPECT_EQ(*hex, Sha256Hex(content));
  std::remove(path.c_str());
  EXPECT_EQ(Sha256FileHex(path).status().code(), absl::StatusCode::kNotFound);
}

TEST(Sha256Test, BlobRefsAreValidated) {
  const std::string hex(64, 'a');
  auto parsed = ParseBlobRef(BlobRef(hex), "model.blob");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, hex);
  auto bad = ParseBlobRef("sha256:" + std::string(64, 'A'), "model.blob");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message().substr(0, 11), "model.blob:");
  EXPECT_FALSE(ParseBlobRef("md5:abc", "x").ok());
}

}  // namespace
}  // namespace quantd
