#include "server/auth/tls_credentials.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::auth {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// Certificates come from the openssl command-line tool, as an operator
// would make them.
class TlsCredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (fs::temp_directory_path() / "quantd-tls-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    MakeSelfSigned("a", "server-a");
    MakeSelfSigned("b", "server-b");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void MakeSelfSigned(const std::string& name, const std::string& cn) {
    const std::string command =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
        "-nodes -days 2 -subj /CN=" +
        cn + " -keyout " + Path(name + ".key") + " -out " +
        Path(name + ".crt") + " 2>/dev/null";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }
  std::string Path(const std::string& name) const {
    return (dir_ / name).string();
  }
  TlsOptions Options(const std::string& cert, const std::string& key) const {
    TlsOptions options;
    options.cert_file = Path(cert + ".crt");
    options.key_file = Path(key + ".key");
    return options;
  }
  static std::string Read(const std::string& path) {
    std::ifstream file(path);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
  }

  fs::path dir_;
};

TEST_F(TlsCredentialsTest, LoadsAMatchingPair) {
  auto material = LoadTlsMaterial(Options("a", "a"), absl::Now());
  ASSERT_TRUE(material.ok()) << material.status();
  EXPECT_THAT(material->subject, HasSubstr("CN=server-a"));
  EXPECT_GT(material->not_after, absl::Now() + absl::Hours(24));
  EXPECT_THAT(material->identity_pem, HasSubstr("PRIVATE KEY"));
  EXPECT_THAT(material->identity_pem, HasSubstr("BEGIN CERTIFICATE"));
}

TEST_F(TlsCredentialsTest, RejectsAKeyOfAnotherCertificate) {
  auto material = LoadTlsMaterial(Options("a", "b"), absl::Now());
  ASSERT_FALSE(material.ok());
  EXPECT_THAT(material.status().message(), HasSubstr("tls.key_file"));
  EXPECT_THAT(material.status().message(), HasSubstr("does not match"));
}

TEST_F(TlsCredentialsTest, RejectsGarbageExpiredAndMissingFiles) {
  std::ofstream(Path("junk.crt")) << "not a certificate";
  auto junk = LoadTlsMaterial(Options("junk", "a"), absl::Now());
  EXPECT_THAT(junk.status().message(), HasSubstr("tls.cert_file"));

  auto expired =
      LoadTlsMaterial(Options("a", "a"), absl::Now() + absl::Hours(24 * 3));
  EXPECT_THAT(expired.status().message(), HasSubstr("has expired"));

  auto missing = LoadTlsMaterial(Options("a", "none"), absl::Now());
  EXPECT_THAT(missing.status().message(), HasSubstr("cannot read"));

  TlsOptions bad_ca = Options("a", "a");
  bad_ca.client_ca_file = Path("junk.crt");
  auto ca = LoadTlsMaterial(bad_ca, absl::Now());
  EXPECT_THAT(ca.status().message(), HasSubstr("tls.client_ca_file"));
}

TEST_F(TlsCredentialsTest, ChecksOptionCombinations) {
  TlsOptions only_cert;
  only_cert.cert_file = Path("a.crt");
  EXPECT_THAT(ServerTls::Create(only_cert, Path("stage")).status().message(),
              HasSubstr("tls.key_file"));
  TlsOptions only_ca;
  only_ca.client_ca_file = Path("a.crt");
  EXPECT_THAT(ServerTls::Create(only_ca, Path("stage")).status().message(),
              HasSubstr("tls.client_ca_file"));
  TlsOptions require = Options("a", "a");
  require.require_client_cert = true;
  EXPECT_THAT(ServerTls::Create(require, Path("stage")).status().message(),
              HasSubstr("tls.require_client_cert"));
}

TEST_F(TlsCredentialsTest, StagesPrivatelyAndReloadsOnlyGoodFiles) {
  TlsOptions options = Options("live", "live");
  options.client_ca_file = Path("b.crt");
  fs::copy_file(Path("a.crt"), Path("live.crt"));
  fs::copy_file(Path("a.key"), Path("live.key"));
  auto tls = ServerTls::Create(options, Path("stage"));
  ASSERT_TRUE(tls.ok()) << tls.status();
  ASSERT_NE((*tls)->credentials(), nullptr);
  EXPECT_THAT((*tls)->Describe(), HasSubstr("CN=server-a"));
  struct stat info;
  ASSERT_EQ(::stat(Path("stage/identity.pem").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(Path("stage").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700u);
  const std::string staged = Read(Path("stage/identity.pem"));

  // A half-finished rotation (new certificate, old key) is refused and
  // the served material stays.
  fs::copy_file(Path("b.crt"), Path("live.crt"),
                fs::copy_options::overwrite_existing);
  EXPECT_FALSE((*tls)->Reload().ok());
  EXPECT_EQ(Read(Path("stage/identity.pem")), staged);

  fs::copy_file(Path("b.key"), Path("live.key"),
                fs::copy_options::overwrite_existing);
  ASSERT_TRUE((*tls)->Reload().ok());
  EXPECT_THAT((*tls)->Describe(), HasSubstr("CN=server-b"));
  EXPECT_NE(Read(Path("stage/identity.pem")), staged);
}

}  // namespace
}  // namespace quantd::auth
