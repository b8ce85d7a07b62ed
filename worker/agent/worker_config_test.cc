#include "worker/agent/worker_config.h"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::StatusOr<WorkerOptions> Load(
    const std::map<std::string, std::string>& flags) {
  auto config = Config::Load(
      WorkerConfigSchema(), flags,
      [](const std::string&) { return std::optional<std::string>(); }, "");
  if (!config.ok()) return config.status();
  return WorkerOptionsFromConfig(*config, "host-1");
}

TEST(WorkerConfigTest, DefaultsPassNoEngineFlags) {
  const auto options = Load({});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->worker_id, "host-1");
  EXPECT_TRUE(options->runner.engine_extra_args.empty());
  EXPECT_EQ(options->runner.relay.checkpoints.min_interval, absl::Seconds(60));
}

TEST(WorkerConfigTest, ForwardsDeviceThreadsAndDataDirToTheEngine) {
  const std::string data_dir = ::testing::TempDir();
  const auto options = Load({{"engine-device", "cuda:1"},
                             {"engine-threads", "3"},
                             {"data-dir", data_dir},
                             {"checkpoint-upload-interval-seconds", "2.5"}});
  ASSERT_TRUE(options.ok()) << options.status();
  ASSERT_EQ(options->runner.engine_extra_args.size(), 6u);
  EXPECT_THAT(
      std::vector<std::string>(options->runner.engine_extra_args.begin(),
                               options->runner.engine_extra_args.begin() + 4),
      ElementsAre("--device", "cuda:1", "--threads", "3"));
  EXPECT_EQ(options->runner.engine_extra_args[4], "--data-dir");
  EXPECT_EQ(std::filesystem::path(options->runner.engine_extra_args[5]),
            std::filesystem::absolute(data_dir));
  EXPECT_EQ(options->runner.relay.checkpoints.min_interval,
            absl::Milliseconds(2500));
}

TEST(WorkerConfigTest, RejectsADataDirThatIsNotADirectory) {
  const auto options = Load({{"data-dir", "/nonexistent/quantd-data"}});
  ASSERT_FALSE(options.ok());
  EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(options.status().message(), HasSubstr("data-dir"));
  EXPECT_THAT(options.status().message(), HasSubstr("/nonexistent"));
}

TEST(WorkerConfigTest, RejectsNegativeThreadsAndIntervals) {
  EXPECT_FALSE(Load({{"engine-threads", "-1"}}).ok());
  EXPECT_FALSE(Load({{"checkpoint-upload-interval-seconds", "-5"}}).ok());
}

absl::StatusOr<ChannelTlsOptions> LoadTls(
    const std::map<std::string, std::string>& flags,
    const std::map<std::string, std::string>& env = {}) {
  auto config = Config::Load(
      WorkerConfigSchema(), flags,
      [&env](const std::string& name) -> std::optional<std::string> {
        auto it = env.find(name);
        if (it == env.end()) return std::nullopt;
        return it->second;
      },
      "");
  if (!config.ok()) return config.status();
  return TlsOptionsFromConfig(*config);
}

void ExpectFieldError(const absl::StatusOr<ChannelTlsOptions>& tls,
                      const std::string& key, const std::string& reason) {
  ASSERT_FALSE(tls.ok());
  EXPECT_EQ(tls.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tls.status().message(), HasSubstr(key));
  EXPECT_THAT(tls.status().message(), HasSubstr(reason));
}

TEST(WorkerConfigTest, TlsIsOffByDefault) {
  const auto tls = LoadTls({});
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_FALSE(tls->enabled);
  EXPECT_TRUE(tls->ca_file.empty());
}

TEST(WorkerConfigTest, TlsFilesTurnTlsOn) {
  auto tls = LoadTls({{"tls.ca", "/etc/quantd/ca.crt"},
                      {"tls.cert", "/etc/quantd/w.crt"},
                      {"tls.key", "/etc/quantd/w.key"},
                      {"tls.server_name", "quantd.example.com"}});
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_TRUE(tls->enabled);
  EXPECT_EQ(tls->ca_file, "/etc/quantd/ca.crt");
  EXPECT_EQ(tls->cert_file, "/etc/quantd/w.crt");
  EXPECT_EQ(tls->key_file, "/etc/quantd/w.key");
  EXPECT_EQ(tls->server_name, "quantd.example.com");
  // tls.enabled alone: the system roots.
  tls = LoadTls({{"tls.enabled", "true"}});
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_TRUE(tls->enabled);
  // The environment works as for every key.
  tls = LoadTls({}, {{"QUANTD_TLS_CA", "/ca.pem"}});
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_TRUE(tls->enabled);
  EXPECT_EQ(tls->ca_file, "/ca.pem");
}

TEST(WorkerConfigTest, ClientCertificateNeedsBothFiles) {
  ExpectFieldError(LoadTls({{"tls.cert", "/w.crt"}}), "tls.key",
                   "needs both tls.cert and tls.key");
  ExpectFieldError(LoadTls({{"tls.key", "/w.key"}}), "tls.cert",
                   "needs both tls.cert and tls.key");
}

TEST(WorkerConfigTest, RejectsTlsDisabledNextToTlsFiles) {
  ExpectFieldError(LoadTls({{"tls.enabled", "false"}, {"tls.ca", "/ca.pem"}}),
                   "tls.enabled", "is false but tls.ca or tls.cert is set");
}

TEST(WorkerConfigTest, ServerNameNeedsTlsAndAHostName) {
  ExpectFieldError(LoadTls({{"tls.server_name", "quantd"}}), "tls.server_name",
                   "needs TLS");
  ExpectFieldError(
      LoadTls({{"tls.enabled", "true"}, {"tls.server_name", "a b"}}),
      "tls.server_name", "is not a host name");
  ExpectFieldError(
      LoadTls({{"tls.enabled", "true"}, {"tls.server_name", "-x"}}),
      "tls.server_name", "is not a host name");
  ExpectFieldError(LoadTls({{"tls.enabled", "true"},
                            {"tls.server_name", std::string(254, 'a')}}),
                   "tls.server_name", "is not a host name");
  EXPECT_TRUE(
      LoadTls({{"tls.enabled", "true"}, {"tls.server_name", "127.0.0.1"}})
          .ok());
}

TEST(WorkerConfigTest, RejectsAMistypedTlsSwitch) {
  EXPECT_FALSE(LoadTls({{"tls.enabled", "maybe"}}).ok());
}

}  // namespace
}  // namespace quantd::agent
