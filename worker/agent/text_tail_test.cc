#include "worker/agent/text_tail.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace quantd::agent {
namespace {

std::string WriteTemp(const std::string& name, const std::string& content) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

TEST(TextTailTest, KeepsTheLastLines) {
  const std::string path = WriteTemp("tail1", "a\nb\nc\nd\n");
  EXPECT_EQ(TailLines(path, 2, 1024), "c\nd");
  EXPECT_EQ(TailLines(path, 10, 1024), "a\nb\nc\nd");
  EXPECT_EQ(TailLines(path, 0, 1024), "");
}

TEST(TextTailTest, DropsTheCutFirstLineWhenReadingOnlyTheEnd) {
  const std::string path =
      WriteTemp("tail2", std::string(100, 'x') + "\nlast one\nfinal");
  // The last 14 bytes start inside "last one", which is dropped; 15 bytes
  // start at its beginning.
  EXPECT_EQ(TailLines(path, 10, 14), "final");
  EXPECT_EQ(TailLines(path, 10, 15), "last one\nfinal");
}

TEST(TextTailTest, MissingOrEmptyFileGivesNothing) {
  EXPECT_EQ(TailLines(::testing::TempDir() + "/no-such-file", 5, 100), "");
  EXPECT_EQ(TailLines(WriteTemp("tail3", ""), 5, 100), "");
  EXPECT_EQ(TailLines(WriteTemp("tail4", "\n\n"), 5, 100), "");
}

}  // namespace
}  // namespace quantd::agent
