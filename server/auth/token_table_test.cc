#include "server/auth/token_table.h"

#include <string>

#include "common/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kHash = Sha256Hex("s3cret");

std::string OneToken(const std::string& body) {
  return "tokens:\n  \"" + kHash + "\":\n" + body;
}

TEST(TokenTableTest, ParsesYamlEntries) {
  auto table =
      TokenTable::Parse(OneToken("    tenant: acme\n    roles: [submit, read]\n"
                                 "    expires_at: \"2030-01-02T03:04:05Z\"\n"
                                 "    revoked: false\n    note: CI\n"),
                        "tokens.yaml");
  ASSERT_TRUE(table.ok()) << table.status();
  const TokenEntry* entry = table->Find(kHash);
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->tenant, "acme");
  EXPECT_EQ(entry->roles, (RoleSet{Role::kSubmit, Role::kRead}));
  ASSERT_TRUE(entry->expires_at.has_value());
  EXPECT_EQ(absl::ToUnixSeconds(*entry->expires_at), 1893553445);
  EXPECT_FALSE(entry->revoked);
  EXPECT_EQ(table->Find(Sha256Hex("other")), nullptr);
}

TEST(TokenTableTest, ParsesJsonAndUppercaseHashes) {
  std::string upper = kHash;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  auto table =
      TokenTable::Parse("{\"tokens\": {\"" + upper +
                            "\": {\"tenant\": \"w\", \"roles\": [\"worker\"], "
                            "\"revoked\": true}}}",
                        "tokens.json");
  ASSERT_TRUE(table.ok()) << table.status();
  ASSERT_NE(table->Find(kHash), nullptr);
  EXPECT_TRUE(table->Find(kHash)->revoked);
  EXPECT_EQ(table->Find(kHash)->roles, RoleSet{Role::kWorker});
}

TEST(TokenTableTest, EmptyTokenListIsValid) {
  auto table = TokenTable::Parse("tokens: {}\n", "t");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->size(), 0u);
}

struct BadCase {
  std::string text;
  std::string expected;
};

class TokenTableErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(TokenTableErrorTest, RejectsWithoutPrintingTheHash) {
  auto table = TokenTable::Parse(GetParam().text, "tokens.yaml");
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(table.status().message(), HasSubstr("tokens.yaml"));
  EXPECT_THAT(table.status().message(), HasSubstr(GetParam().expected));
  EXPECT_THAT(table.status().message(), Not(HasSubstr(kHash)));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, TokenTableErrorTest,
    ::testing::Values(
        BadCase{"[1, 2]", "top level"},
        BadCase{"tokens: {}\nextra: 1\n", "unknown top-level key \"extra\""},
        BadCase{"tokens: [a]\n", "tokens must map"},
        BadCase{"tokens:\n  abc: {tenant: a, roles: [read]}\n",
                "64 hex digits"},
        BadCase{OneToken("    tenant: acme\n    roles: [root]\n"),
                "unknown role \"root\""},
        BadCase{OneToken("    tenant: acme\n    roles: []\n"),
                "non-empty list"},
        BadCase{OneToken("    tenant: acme\n"), "roles are required"},
        BadCase{OneToken("    tenant: Acme!\n    roles: [read]\n"),
                "tenant must be"},
        BadCase{OneToken("    roles: [read]\n"), "tenant must be"},
        BadCase{OneToken("    tenant: a\n    roles: [read]\n    revokd: 1\n"),
                "unknown key \"revokd\""},
        BadCase{OneToken("    tenant: a\n    roles: [read]\n"
                         "    expires_at: tomorrow\n"),
                "RFC 3339"},
        BadCase{OneToken("    tenant: a\n    roles: [read]\n"
                         "    revoked: maybe\n"),
                "true or false"},
        BadCase{"tokens: {" + kHash + ": {tenant: a, roles: [read]}, " + kHash +
                    ": {tenant: b, roles: [read]}}",
                "listed twice"},
        BadCase{"tokens: {a: [", "not YAML or JSON"},
        // Found by fuzz/token_file_fuzzer: a misindented entry nested in
        // another one was named in full.
        BadCase{OneToken("    tenant: a\n    roles: [read]\n    \"" + kHash +
                         "\":\n      tenant: b\n      roles: [read]\n"),
                "must be a scalar"}));

TEST(TokenTableTest, ErrorsNameTheTokenId) {
  auto table =
      TokenTable::Parse(OneToken("    tenant: a\n    roles: [x]\n"), "f");
  ASSERT_FALSE(table.ok());
  EXPECT_THAT(table.status().message(), HasSubstr(TokenIdOf(kHash)));
}

TEST(TokenTableTest, MissingFileNamesThePath) {
  auto table = TokenTable::LoadFile("/nonexistent/tokens.yaml");
  ASSERT_FALSE(table.ok());
  EXPECT_THAT(table.status().message(), HasSubstr("/nonexistent/tokens.yaml"));
}

TEST(TokenTableTest, OversizedTextIsRefused) {
  std::string text = "tokens: {}\n# ";
  text.append(TokenTable::kMaxFileBytes, 'x');
  auto table = TokenTable::Parse(text, "big");
  ASSERT_FALSE(table.ok());
  EXPECT_THAT(table.status().message(), HasSubstr("larger than"));
}

}  // namespace
}  // namespace quantd::auth
