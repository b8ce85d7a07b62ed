// Runs the whole command line in-process (RunQuantctl with string streams)
// for everything that needs no server: help, usage errors, local
// validation, configuration precedence and an unreachable address.
#include "client/quantctl/cli.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "client/quantctl/exit_codes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace quantd::client {
namespace {

using ::testing::HasSubstr;

struct RunResult {
  int code = -1;
  std::string out;
  std::string err;
};

RunResult Quantctl(std::vector<std::string> args,
                   std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), "quantctl");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  std::ostringstream out;
  std::ostringstream err;
  Io io{out, err, {}, {}};
  const EnvLookup lookup =
      [env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  RunResult run;
  run.code =
      RunQuantctl(static_cast<int>(argv.size()), argv.data(), io, lookup);
  run.out = out.str();
  run.err = err.str();
  return run;
}

// A loopback port nothing listens on: bound, then released.
std::string ClosedAddress() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)),
            0);
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
}

TEST(CliTest, HelpListsVerbsAndExitCodes) {
  const RunResult run = Quantctl({"--help"});
  EXPECT_EQ(run.code, 0);
  for (const char* verb : {"submit", "get", "list", "watch", "cancel", "fetch",
                           "logs", "workers", "version"}) {
    EXPECT_THAT(run.out, HasSubstr(verb));
  }
  EXPECT_THAT(run.out, HasSubstr("Exit codes:"));
  EXPECT_THAT(run.out, HasSubstr("6  job FAILED"));
}

TEST(CliTest, UsageErrorsAreInvalidInput) {
  EXPECT_EQ(Quantctl({"frobnicate"}).code, 2);
  EXPECT_EQ(Quantctl({}).code, 2);
  const RunResult missing = Quantctl({"get"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_THAT(missing.err, HasSubstr("JOB"));
}

TEST(CliTest, VersionNeedsNoServer) {
  const RunResult run = Quantctl({"version", "--output", "json"});
  EXPECT_EQ(run.code, 0);
  const auto doc = nlohmann::json::parse(run.out);
  EXPECT_EQ(doc["api"], "quantd.v1");
  EXPECT_FALSE(doc["client_version"].get<std::string>().empty());
}

TEST(CliTest, InvalidSubmitFlagsFailBeforeConnecting) {
  const RunResult run =
      Quantctl({"submit", "/m/model.gguf", "--method", "osplus", "--scheme",
                "w8a8", "--samples", "0", "--addr", ClosedAddress()});
  EXPECT_EQ(run.code, ToInt(ExitCode::kInvalidInput));
  EXPECT_THAT(run.err,
              HasSubstr("quantctl: --samples: must be in 1..4096, got 0"));
  const RunResult bits = Quantctl(
      {"submit", "/m/model.gguf", "--method", "rtn", "--w-bits", "12"});
  EXPECT_EQ(bits.code, 2);
  EXPECT_THAT(bits.err, HasSubstr("--w-bits: must be in 2..8, got 12"));
}

TEST(CliTest, UnreachableServerNamesTheAddress) {
  const std::string address = ClosedAddress();
  const RunResult run = Quantctl(
      {"get", "j-x", "--addr", address, "--connect-timeout-seconds", "0.3"});
  EXPECT_EQ(run.code, ToInt(ExitCode::kUnreachable));
  EXPECT_THAT(run.err, HasSubstr("cannot reach quantd at " + address));
}

TEST(CliTest, JsonOutputCarriesAnErrorDocument) {
  const RunResult run =
      Quantctl({"list", "--output", "json", "--addr", ClosedAddress(),
                "--connect-timeout-seconds", "0.3"});
  EXPECT_EQ(run.code, 3);
  const auto doc = nlohmann::json::parse(run.out);
  EXPECT_EQ(doc["error"]["code"], "UNAVAILABLE");
  EXPECT_EQ(doc["error"]["exit_code"], 3);
}

TEST(CliTest, FlagsBeatEnvironmentBeatsConfigFile) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("quantctl_cli_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir / "quantd");
  const std::string from_file = ClosedAddress();
  const std::string from_env = "127.0.0.2:1";
  {
    std::ofstream file(dir / "quantd/quantctl.yaml");
    file << "addr: " << from_file << "\nconnect-timeout-seconds: 0.3\n";
  }
  const std::map<std::string, std::string> xdg = {
      {"XDG_CONFIG_HOME", dir.string()}};
  EXPECT_THAT(Quantctl({"get", "j-x"}, xdg).err, HasSubstr(from_file));
  auto with_env = xdg;
  with_env["QUANTD_ADDR"] = from_env;
  EXPECT_THAT(Quantctl({"get", "j-x"}, with_env).err, HasSubstr(from_env));
  const std::string from_flag = ClosedAddress();
  EXPECT_THAT(Quantctl({"get", "j-x", "--addr", from_flag}, with_env).err,
              HasSubstr(from_flag));
  std::filesystem::remove_all(dir);
}

TEST(CliTest, BadConfigurationNamesItsSource) {
  const RunResult env = Quantctl({"version"}, {{"QUANTD_OUTPUT", "xml"}});
  EXPECT_EQ(env.code, 2);
  EXPECT_THAT(env.err, HasSubstr("QUANTD_OUTPUT: must be one of"));
  const RunResult tls = Quantctl({"list", "--tls.cert", "/tmp/cert.pem"});
  EXPECT_EQ(tls.code, 2);
  EXPECT_THAT(tls.err, HasSubstr("--tls.key"));
  const RunResult file = Quantctl({"list", "--config", "/nonexistent/q.yaml"});
  EXPECT_EQ(file.code, 2);
  EXPECT_THAT(file.err, HasSubstr("/nonexistent/q.yaml"));
}

}  // namespace
}  // namespace quantd::client
