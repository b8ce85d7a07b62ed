#include "common/ids.h"

#include <set>

#include "gtest/gtest.h"

namespace quantd {
namespace {

TEST(IdGeneratorTest, JobIdsAreValidUniqueAndSortedByTime) {
  uint64_t now = 1700000000000;
  IdGenerator ids([&now] { return now; }, 42);
  std::vector<std::string> created;
  for (int i = 0; i < 1000; ++i) {
    if (i % 100 == 0) ++now;  // Many ids share a millisecond.
    created.push_back(ids.NewJobId());
  }
  std::set<std::string> unique(created.begin(), created.end());
  EXPECT_EQ(unique.size(), created.size());
  for (size_t i = 1; i < created.size(); ++i) {
    EXPECT_LT(created[i - 1], created[i]);
    EXPECT_TRUE(IsValidJobId(created[i])) << created[i];
  }
}

TEST(IdGeneratorTest, ClockGoingBackwardsKeepsOrder) {
  uint64_t now = 1700000000000;
  IdGenerator ids([&now] { return now; }, 1);
  const std::string first = ids.NewJobId();
  now -= 5000;
  EXPECT_LT(first, ids.NewJobId());
}

TEST(IdGeneratorTest, RejectsMalformedIds) {
  EXPECT_FALSE(IsValidJobId(""));
  EXPECT_FALSE(IsValidJobId("x-01ARZ3NDEKTSV4RRFFQ69G5FAV"));
  EXPECT_FALSE(IsValidJobId("j-01ARZ3NDEKTSV4RRFFQ69G5FAU"));  // 'U' invalid.
  EXPECT_FALSE(IsValidJobId("j-81ARZ3NDEKTSV4RRFFQ69G5FAV"));  // Overflow.
  EXPECT_TRUE(IsValidJobId("j-01ARZ3NDEKTSV4RRFFQ69G5FAV"));
}

TEST(IdGeneratorTest, TokensAreHex) {
  IdGenerator ids;
  const std::string token = ids.NewToken();
  EXPECT_EQ(token.size(), 32u);
  EXPECT_EQ(token.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(token, ids.NewToken());
}

}  // namespace
}  // namespace quantd
