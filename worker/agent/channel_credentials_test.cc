#include "worker/agent/channel_credentials.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/pem.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::agent {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// Certificates come from the openssl command-line tool, as an operator
// would make them (server/auth/tls_credentials_test.cc does the same).
class ChannelCredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (fs::temp_directory_path() / "quantd-worker-tls-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
        "-nodes -days 2 -subj /CN=worker-a -keyout a.key -out a.crt");
    Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
        "-nodes -days 2 -subj /CN=worker-b -keyout b.key -out b.crt");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Run(const std::string& command) {
    const std::string line =
        "cd " + dir_.string() + " && " + command + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(line.c_str()), 0) << command;
  }
  std::string Path(const std::string& name) const {
    return (dir_ / name).string();
  }
  std::string Write(const std::string& name, const std::string& text) const {
    std::ofstream(Path(name), std::ios::binary) << text;
    return Path(name);
  }
  ChannelTlsOptions Mutual(const std::string& cert,
                           const std::string& key) const {
    return {.enabled = true,
            .ca_file = Path("a.crt"),
            .cert_file = Path(cert),
            .key_file = Path(key)};
  }
  static void ExpectError(const ChannelTlsOptions& tls, const std::string& key,
                          const std::string& reason) {
    const auto credentials = MakeChannelCredentials(tls);
    ASSERT_FALSE(credentials.ok());
    EXPECT_EQ(credentials.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(credentials.status().message(), HasSubstr(key));
    EXPECT_THAT(credentials.status().message(), HasSubstr(reason));
  }

  fs::path dir_;
};

TEST_F(ChannelCredentialsTest, PlaintextNeedsNoFiles) {
  const auto credentials = MakeChannelCredentials({});
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_NE(*credentials, nullptr);
}

TEST_F(ChannelCredentialsTest, ReadsCaAndClientCertificate) {
  ChannelTlsOptions tls = Mutual("a.crt", "a.key");
  const auto credentials = MakeChannelCredentials(tls);
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_NE(*credentials, nullptr);
  tls.server_name = "quantd.internal";
  EXPECT_TRUE(CreateSchedulerChannel("127.0.0.1:1", tls).ok());
  // System roots: no file at all.
  EXPECT_TRUE(MakeChannelCredentials({.enabled = true}).ok());
}

TEST_F(ChannelCredentialsTest, UnreadableFileNamesKeyAndPath) {
  ExpectError({.enabled = true, .ca_file = "/nonexistent/quantd-ca.pem"},
              "tls.ca", "cannot read /nonexistent/quantd-ca.pem");
  ExpectError(Mutual("a.crt", "missing.key"), "tls.key",
              "cannot read " + Path("missing.key"));
}

TEST_F(ChannelCredentialsTest, RejectsFilesWithoutACertificate) {
  const std::string notes = Write("notes.txt", "not a certificate\n");
  ExpectError({.enabled = true, .ca_file = notes}, "tls.ca",
              notes + " holds no PEM certificate");
  // A key where the CA belongs, a block with a garbled body.
  ExpectError({.enabled = true, .ca_file = Path("a.key")}, "tls.ca",
              "holds no PEM certificate");
  const std::string garbled =
      Write("garbled.pem",
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  ExpectError(Mutual(garbled, "a.key"), "tls.cert",
              garbled + " holds no PEM certificate");
}

TEST_F(ChannelCredentialsTest, RejectsABadClientKey) {
  ExpectError(Mutual("a.crt", "a.crt"), "tls.key",
              Path("a.crt") + " holds no unencrypted PEM private key");
  ExpectError(
      Mutual("a.crt", "b.key"), "tls.key",
      Path("b.key") + " does not match the certificate in " + Path("a.crt"));
  Run("openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:secret -in a.key "
      "-out encrypted.key");
  ExpectError(Mutual("a.crt", "encrypted.key"), "tls.key",
              "holds no unencrypted PEM private key");
}

TEST_F(ChannelCredentialsTest, RejectsAnExpiredClientCertificate) {
  // `openssl req` cannot back-date; `openssl ca` can.
  Write("ca.cnf",
        "[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\nnew_certs_dir=.\n"
        "serial=serial\ndefault_md=sha256\npolicy=p\n[p]\n"
        "commonName=supplied\n");
  Write("index.txt", "");
  Write("serial", "01\n");
  Run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
      "-nodes -subj /CN=old -keyout old.key -out old.csr");
  Run("openssl ca -selfsign -batch -config ca.cnf -keyfile old.key -in "
      "old.csr -startdate 20200101000000Z -enddate 20200102000000Z -out "
      "old.crt");
  ExpectError(Mutual("old.crt", "old.key"), "tls.cert",
              "the certificate in " + Path("old.crt") + " has expired");
}

TEST_F(ChannelCredentialsTest, RejectsOversizedFiles) {
  const std::string big =
      Write("big.pem", std::string(kMaxPemFileBytes + 1, 'A'));
  ExpectError({.enabled = true, .ca_file = big}, "tls.ca", "over 1 MiB");
}

TEST_F(ChannelCredentialsTest, ClientCertificateNeedsItsKey) {
  ExpectError({.enabled = true, .cert_file = Path("a.crt")}, "tls.key",
              "needs both tls.cert and tls.key");
}

TEST(DescribeSchedulerChannelTest, NamesAddressAndTransport) {
  EXPECT_EQ(DescribeSchedulerChannel("127.0.0.1:7070", {}),
            "quantd at 127.0.0.1:7070 in plaintext");
  EXPECT_EQ(DescribeSchedulerChannel("10.0.0.5:7070", {.enabled = true}),
            "quantd at 10.0.0.5:7070 over TLS (CA system roots, no client "
            "certificate)");
  EXPECT_EQ(
      DescribeSchedulerChannel("10.0.0.5:7070", {.enabled = true,
                                                 .ca_file = "/etc/ca.crt",
                                                 .cert_file = "/etc/w.crt",
                                                 .key_file = "/etc/w.key",
                                                 .server_name = "quantd"}),
      "quantd at 10.0.0.5:7070 over TLS (CA /etc/ca.crt, server name "
      "quantd, client certificate /etc/w.crt)");
}

}  // namespace
}  // namespace quantd::agent
