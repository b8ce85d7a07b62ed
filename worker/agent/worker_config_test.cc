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

}  // namespace
}  // namespace quantd::agent
