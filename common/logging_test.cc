#include "common/logging.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace quantd {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(LoggingTest, JsonLinesAreValidJsonWithEscapedMessages) {
  const std::string path =
      (std::filesystem::temp_directory_path() / "quantd_log_test.jsonl")
          .string();
  std::remove(path.c_str());
  auto logs = LoggerFactory::Create(
      {.format = "json", .levels = "info,store=debug", .file = path});
  ASSERT_TRUE(logs.ok()) << logs.status();
  (*logs)->Get("store")->debug("job={} says \"hi\"\n", "j-1");
  (*logs)->Get("api")->debug("hidden at info");
  (*logs)->Get("api")->info("shown");
  (*logs)->Get("store")->flush();
  (*logs)->Get("api")->flush();
  std::istringstream lines(ReadAll(path));
  std::string line;
  std::vector<nlohmann::json> records;
  while (std::getline(lines, line))
    records.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0]["logger"], "store");
  EXPECT_EQ(records[0]["level"], "debug");
  EXPECT_EQ(records[0]["msg"], "job=j-1 says \"hi\"\n");
  EXPECT_EQ(records[1]["msg"], "shown");
  std::remove(path.c_str());
}

TEST(LoggingTest, BadOptionsNameTheField) {
  auto bad_format = LoggerFactory::Create({.format = "xml"});
  EXPECT_THAT(bad_format.status().message(),
              ::testing::HasSubstr("log.format"));
  auto bad_level = LoggerFactory::Create({.levels = "info,store=loud"});
  EXPECT_THAT(bad_level.status().message(),
              ::testing::HasSubstr("unknown level \"loud\""));
}

TEST(LoggingTest, LevelsChangeAtRuntime) {
  auto logs = LoggerFactory::Create({});
  ASSERT_TRUE(logs.ok());
  auto logger = (*logs)->Get("scheduler");
  EXPECT_FALSE(logger->should_log(spdlog::level::debug));
  ASSERT_TRUE((*logs)->SetLevels("warn,scheduler=debug").ok());
  EXPECT_TRUE(logger->should_log(spdlog::level::debug));
  EXPECT_FALSE((*logs)->Get("other")->should_log(spdlog::level::info));
}

}  // namespace
}  // namespace quantd
