#include "server/auth/security.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "common/sha256.h"
#include "common/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/sinks/null_sink.h"

namespace quantd::auth {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

TEST(IsLoopbackListenTest, KnowsLoopbackForms) {
  EXPECT_TRUE(IsLoopbackListen("127.0.0.1:7070"));
  EXPECT_TRUE(IsLoopbackListen("127.1.2.3:0"));
  EXPECT_TRUE(IsLoopbackListen("[::1]:7070"));
  EXPECT_TRUE(IsLoopbackListen("localhost:7070"));
  EXPECT_TRUE(IsLoopbackListen("unix:/run/quantd.sock"));
  EXPECT_FALSE(IsLoopbackListen("0.0.0.0:7070"));
  EXPECT_FALSE(IsLoopbackListen("[::]:7070"));
  EXPECT_FALSE(IsLoopbackListen(":7070"));
  EXPECT_FALSE(IsLoopbackListen("10.0.0.5:7070"));
  EXPECT_FALSE(IsLoopbackListen("127.evil.example.com:7070"));
}

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (fs::temp_directory_path() / "quantd-security-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    AddSecurityKeys(schema_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  absl::StatusOr<std::unique_ptr<Security>> Open(
      const std::string& listen, std::map<std::string, std::string> flags) {
    auto config = Config::Load(
        schema_, flags, [](const std::string&) { return std::nullopt; }, "");
    EXPECT_TRUE(config.ok()) << config.status();
    return Security::Open(
        *config, listen, dir_.string(),
        std::make_shared<spdlog::logger>(
            "test", std::make_shared<spdlog::sinks::null_sink_mt>()));
  }

  fs::path dir_;
  ConfigSchema schema_;
};

TEST_F(SecurityTest, LoopbackWithoutTokensIsOff) {
  auto security = Open("127.0.0.1:0", {});
  ASSERT_TRUE(security.ok()) << security.status();
  EXPECT_EQ((*security)->mode(), AuthMode::kOffLoopback);
  EXPECT_EQ((*security)->tokens(), nullptr);
  EXPECT_EQ((*security)->tls(), nullptr);
  EXPECT_EQ((*security)->audit()->path(), (dir_ / "audit.jsonl").string());
  EXPECT_THAT((*security)->Describe(), HasSubstr("authentication: OFF"));
}

TEST_F(SecurityTest, OtherListenersNeedTokensOrAnExplicitOptOut) {
  auto refused = Open("0.0.0.0:7070", {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(FieldOfError(refused.status()), "auth.token_file");
  auto allowed =
      Open("0.0.0.0:7070", {{"auth.insecure_allow_anonymous", "true"}});
  ASSERT_TRUE(allowed.ok()) << allowed.status();
  EXPECT_EQ((*allowed)->mode(), AuthMode::kOffByConfig);
}

TEST_F(SecurityTest, TokenFileTurnsAuthenticationOnAndReloads) {
  const std::string path = (dir_ / "tokens.yaml").string();
  std::ofstream(path) << "tokens: {}\n";
  auto security = Open("0.0.0.0:7070", {{"auth.token_file", path}});
  ASSERT_TRUE(security.ok()) << security.status();
  EXPECT_EQ((*security)->mode(), AuthMode::kTokens);
  ASSERT_NE((*security)->tokens(), nullptr);
  EXPECT_FALSE((*security)->tokens()->Authenticate("Bearer t").principal.ok());
  std::ofstream(path) << "tokens:\n  " << Sha256Hex("t")
                      << ": {tenant: acme, roles: [read]}\n";
  (*security)->Reload();
  EXPECT_TRUE((*security)->tokens()->Authenticate("Bearer t").principal.ok());
}

TEST_F(SecurityTest, BadTokenFileStopsStartup) {
  const std::string path = (dir_ / "tokens.yaml").string();
  std::ofstream(path) << "tokens: [oops]\n";
  auto security = Open("127.0.0.1:0", {{"auth.token_file", path}});
  ASSERT_FALSE(security.ok());
  EXPECT_THAT(security.status().message(), HasSubstr(path));
}

TEST_F(SecurityTest, ClientCaWithoutCertificateIsRefused) {
  auto security = Open("127.0.0.1:0", {{"tls.client_ca_file", "/x.pem"}});
  ASSERT_FALSE(security.ok());
  EXPECT_THAT(security.status().message(), HasSubstr("tls.client_ca_file"));
}

}  // namespace
}  // namespace quantd::auth
