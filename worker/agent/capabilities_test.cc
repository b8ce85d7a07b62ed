#include "worker/agent/capabilities.h"

#include <cstdlib>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/agent/command_output.h"

namespace quantd::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string FakeEngine() {
  const char* source = std::getenv("QUANTD_SOURCE_DIR");
  return std::string(source != nullptr ? source : ".") +
         "/worker/agent/testdata/fake_engine.py";
}

TEST(CapabilitiesTest, ParsesTheProbe) {
  auto capabilities = ParseProbeOutput(
      R"({"engine_version":"0.1.0","torch_version":"2.11.0",)"
      R"("host_memory_bytes":1024,"devices":[{"name":"cpu","model":"x86_64",)"
      R"("memory_bytes":1024},{"name":"cuda:0","model":"NVIDIA H100",)"
      R"("memory_bytes":85899345920}],"methods":["rtn","osplus"]})");
  ASSERT_TRUE(capabilities.ok()) << capabilities.status();
  EXPECT_EQ(capabilities->engine_version(), "0.1.0");
  EXPECT_EQ(capabilities->host_memory_bytes(), 1024u);
  ASSERT_EQ(capabilities->devices_size(), 2);
  EXPECT_EQ(capabilities->devices(1).name(), "cuda:0");
  EXPECT_EQ(capabilities->devices(1).memory_bytes(), 85899345920u);
  EXPECT_THAT(capabilities->methods(), ElementsAre("rtn", "osplus"));
  EXPECT_EQ(capabilities->max_concurrent_jobs(), 1u);
}

TEST(CapabilitiesTest, RejectsMalformedProbes) {
  for (const char* json :
       {"", "[]", R"({"devices":{}})", R"({"devices":[{"model":"x"}]})",
        R"({"methods":[1]})", R"({"host_memory_bytes":-1})"}) {
    EXPECT_EQ(ParseProbeOutput(json).status().code(),
              absl::StatusCode::kInvalidArgument)
        << json;
  }
}

TEST(CapabilitiesTest, ProbesTheEngine) {
  auto capabilities = ProbeEngine(FakeEngine(), absl::Seconds(60));
  ASSERT_TRUE(capabilities.ok()) << capabilities.status();
  EXPECT_EQ(capabilities->engine_version(), "fake-0.1");
  EXPECT_THAT(capabilities->methods(), ElementsAre("rtn", "osplus"));
}

TEST(CapabilitiesTest, SumsNvidiaSmiMemory) {
  EXPECT_EQ(ParseNvidiaSmiMemoryUsed("1024\n 512 \n").value(),
            uint64_t{1536} << 20);
  EXPECT_EQ(ParseNvidiaSmiMemoryUsed("").value(), 0u);
  EXPECT_FALSE(ParseNvidiaSmiMemoryUsed("[N/A]\n").ok());
  EXPECT_FALSE(ParseNvidiaSmiMemoryUsed("-5\n").ok());
}

TEST(CommandOutputTest, CapturesStdoutAndReportsFailures) {
  EXPECT_EQ(
      CommandOutput({"sh", "-c", "echo hello; echo err >&2"}, absl::Seconds(30))
          .value(),
      "hello\n");
  auto failed = CommandOutput({"sh", "-c", "exit 5"}, absl::Seconds(30));
  EXPECT_THAT(std::string(failed.status().message()),
              HasSubstr("exit status 5"));
  auto missing = CommandOutput({"/no/such/program"}, absl::Seconds(30));
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("cannot execute /no/such/program"));
  auto slow = CommandOutput({"sleep", "30"}, absl::Milliseconds(100));
  EXPECT_EQ(slow.status().code(), absl::StatusCode::kDeadlineExceeded);
  auto chatty =
      CommandOutput({"sh", "-c", "yes | head -c 100000"}, absl::Seconds(30),
                    /*max_bytes=*/1000);
  EXPECT_EQ(chatty.status().code(), absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace quantd::agent
