#include "client/quantctl/table.h"

#include "gtest/gtest.h"

namespace quantd::client {
namespace {

TEST(TableTest, PadsColumnsToTheWidestCellAndTrimsTrailingSpace) {
  Table table({"ID", "STATE"});
  table.AddRow({"j-1", "QUEUED"});
  table.AddRow({"j-1234", "RUNNING"});
  EXPECT_EQ(table.Render(),
            "ID      STATE\n"
            "j-1     QUEUED\n"
            "j-1234  RUNNING\n");
}

TEST(TableTest, RightAlignsNumbersAndPadsShortRows) {
  Table table({"NAME", "SIZE", "NOTE"});
  table.AlignRight(1);
  table.AddRow({"a", "1.0 KiB", "x"});
  table.AddRow({"bb", "12 B"});
  EXPECT_EQ(table.Render(),
            "NAME     SIZE  NOTE\n"
            "a     1.0 KiB  x\n"
            "bb       12 B\n");
}

TEST(TableTest, CountsUtf8CodePointsForWidth) {
  EXPECT_EQ(DisplayWidth("abc"), 3u);
  EXPECT_EQ(DisplayWidth("\xE2\x80\xA6"), 1u);  // U+2026
  Table table({});
  table.AddRow({"\xE2\x80\xA6", "x"});
  table.AddRow({"ab", "y"});
  EXPECT_EQ(table.Render(), "\xE2\x80\xA6   x\nab  y\n");
}

}  // namespace
}  // namespace quantd::client
