#include "server/auth/token_store.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/sha256.h"
#include "gtest/gtest.h"

namespace quantd::auth {
namespace {

namespace fs = std::filesystem;

class TokenStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (fs::temp_directory_path() / "quantd-tokens-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = (dir_ / "tokens.yaml").string();
    Write(Entry("alice", "acme", "[submit, read]") +
          Entry("old", "acme", "[read]", "    revoked: true\n") +
          Entry("late", "acme", "[read]",
                "    expires_at: \"2030-01-01T00:00:00Z\"\n") +
          Entry("worker", "pool", "[worker]"));
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string Entry(const std::string& token, const std::string& tenant,
                           const std::string& roles,
                           const std::string& extra = "") {
    return "  \"" + Sha256Hex(token) + "\":\n    tenant: " + tenant +
           "\n    roles: " + roles + "\n" + extra;
  }
  void Write(const std::string& entries) {
    std::ofstream(path_) << "tokens:\n" << entries;
  }
  std::unique_ptr<TokenStore> Open() {
    auto store = TokenStore::Open(path_, [this] { return now_; });
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  fs::path dir_;
  std::string path_;
  absl::Time now_ = absl::FromUnixSeconds(1800000000);  // 2027-01-15
};

TEST_F(TokenStoreTest, AcceptsAValidToken) {
  auto store = Open();
  Authentication result = store->Authenticate("Bearer alice");
  ASSERT_TRUE(result.principal.ok()) << result.principal.status();
  EXPECT_EQ(result.principal->tenant, "acme");
  EXPECT_EQ(result.principal->roles, (RoleSet{Role::kSubmit, Role::kRead}));
  EXPECT_EQ(result.principal->token_id, Sha256Hex("alice").substr(0, 8));
  EXPECT_EQ(result.failure, "");
  // The scheme is case-insensitive.
  EXPECT_TRUE(store->Authenticate("bearer alice").principal.ok());
}

TEST_F(TokenStoreTest, RefusalsShareOneMessageAndKeepTheReason) {
  auto store = Open();
  struct Case {
    std::optional<std::string_view> header;
    std::string failure;
  };
  const Case cases[] = {{"Bearer nobody", "unknown_token"},
                        {"Bearer old", "revoked_token"},
                        {"Basic YWxpY2U6", "malformed_token"},
                        {"Bearer ", "malformed_token"},
                        {"Bearer ali ce", "malformed_token"}};
  for (const Case& c : cases) {
    Authentication result = store->Authenticate(c.header);
    ASSERT_FALSE(result.principal.ok()) << *c.header;
    EXPECT_EQ(result.principal.status().code(),
              absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(result.principal.status().message(),
              "invalid or expired bearer token");
    EXPECT_EQ(result.failure, c.failure) << *c.header;
  }
  Authentication missing = store->Authenticate(std::nullopt);
  EXPECT_EQ(missing.principal.status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(missing.failure, "missing_token");
}

TEST_F(TokenStoreTest, ExpiryFollowsTheClock) {
  auto store = Open();
  now_ = absl::FromUnixSeconds(1893455999);  // 2029-12-31T23:59:59Z
  EXPECT_TRUE(store->Authenticate("Bearer late").principal.ok());
  now_ = absl::FromUnixSeconds(1893456000);  // 2030-01-01T00:00:00Z
  Authentication result = store->Authenticate("Bearer late");
  EXPECT_FALSE(result.principal.ok());
  EXPECT_EQ(result.failure, "expired_token");
  EXPECT_EQ(result.token_id, Sha256Hex("late").substr(0, 8));
}

TEST_F(TokenStoreTest, ReloadSwapsTheTableAndKeepsItOnError) {
  auto store = Open();
  ASSERT_EQ(store->size(), 4u);
  Write(Entry("bob", "beta", "[read]") +
        Entry("alice", "acme", "[read]", "    revoked: true\n"));
  ASSERT_TRUE(store->Reload().ok());
  EXPECT_TRUE(store->Authenticate("Bearer bob").principal.ok());
  EXPECT_EQ(store->Authenticate("Bearer alice").failure, "revoked_token");

  std::ofstream(path_) << "tokens: {oops";
  absl::Status status = store->Reload();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(store->Authenticate("Bearer bob").principal.ok());
}

TEST(BearerTokenTest, ParsesOnlyWellFormedValues) {
  EXPECT_EQ(BearerToken("Bearer abc.DEF-123"), "abc.DEF-123");
  EXPECT_EQ(BearerToken("BEARER x"), "x");
  EXPECT_FALSE(BearerToken("Bearer").has_value());
  EXPECT_FALSE(BearerToken("Token abc").has_value());
  EXPECT_FALSE(BearerToken("Bearer a\tb").has_value());
  EXPECT_FALSE(BearerToken("Bearer \x80").has_value());
  EXPECT_FALSE(BearerToken("Bearer " + std::string(4097, 'a')).has_value());
  EXPECT_TRUE(BearerToken("Bearer " + std::string(4096, 'a')).has_value());
}

}  // namespace
}  // namespace quantd::auth
