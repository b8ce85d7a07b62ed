#include "server/auth/audit_log.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace quantd::auth {
namespace {

namespace fs = std::filesystem;

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (fs::temp_directory_path() / "quantd-audit-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = (dir_ / "audit.jsonl").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<nlohmann::json> Lines(const std::string& path) {
    std::vector<nlohmann::json> lines;
    std::ifstream file(path);
    for (std::string line; std::getline(file, line);) {
      lines.push_back(nlohmann::json::parse(line));
    }
    return lines;
  }

  fs::path dir_;
  std::string path_;
};

TEST_F(AuditLogTest, WritesOneJsonLinePerRecord) {
  auto log = AuditLog::Open(path_, nullptr,
                            [] { return absl::FromUnixMillis(1800000000123); });
  ASSERT_TRUE(log.ok()) << log.status();
  (*log)->Record({.rpc = "JobService.CancelJob",
                  .tenant = "acme",
                  .token_id = "9f86d081",
                  .peer = "ipv4:127.0.0.1:5000",
                  .job_id = "j-1",
                  .outcome = "OK"});
  (*log)->Record({.rpc = "JobService.GetJob",
                  .tenant = "",
                  .outcome = CodeName(absl::StatusCode::kUnauthenticated),
                  .reason = "unknown_token"});
  auto lines = Lines(path_);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["time"], "2027-01-15T08:00:00.123Z");
  EXPECT_EQ(lines[0]["rpc"], "JobService.CancelJob");
  EXPECT_EQ(lines[0]["tenant"], "acme");
  EXPECT_EQ(lines[0]["token_id"], "9f86d081");
  EXPECT_EQ(lines[0]["job_id"], "j-1");
  EXPECT_EQ(lines[0]["outcome"], "OK");
  EXPECT_FALSE(lines[0].contains("reason"));
  EXPECT_EQ(lines[1]["outcome"], "UNAUTHENTICATED");
  EXPECT_EQ(lines[1]["reason"], "unknown_token");
  struct stat info;
  ASSERT_EQ(::stat(path_.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
}

TEST_F(AuditLogTest, ClipsAndSanitisesClientStrings) {
  auto log = AuditLog::Open(path_, nullptr);
  ASSERT_TRUE(log.ok());
  (*log)->Record({.rpc = "JobService.GetJob",
                  .job_id = std::string(1000, 'j') + "\n{\"x\":1}",
                  .outcome = "OK",
                  .detail = "\xff\xfe"});
  auto lines = Lines(path_);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["job_id"].get<std::string>(), std::string(128, 'j'));
  EXPECT_FALSE(lines[0]["detail"].get<std::string>().empty());
}

TEST_F(AuditLogTest, ReopenFollowsARotatedFile) {
  auto log = AuditLog::Open(path_, nullptr);
  ASSERT_TRUE(log.ok());
  (*log)->Record({.rpc = "a", .outcome = "OK"});
  fs::rename(path_, path_ + ".1");
  (*log)->Record({.rpc = "b", .outcome = "OK"});
  ASSERT_TRUE((*log)->Reopen().ok());
  (*log)->Record({.rpc = "c", .outcome = "OK"});
  auto old_lines = Lines(path_ + ".1");
  auto new_lines = Lines(path_);
  ASSERT_EQ(old_lines.size(), 2u);
  ASSERT_EQ(new_lines.size(), 1u);
  EXPECT_EQ(new_lines[0]["rpc"], "c");
}

TEST_F(AuditLogTest, UnwritableDirectoryIsAnError) {
  auto log = AuditLog::Open("/nonexistent/dir/audit.jsonl", nullptr);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kUnavailable);
}

TEST(CodeNameTest, UsesGrpcSpelling) {
  EXPECT_EQ(CodeName(absl::StatusCode::kOk), "OK");
  EXPECT_EQ(CodeName(absl::StatusCode::kPermissionDenied), "PERMISSION_DENIED");
  EXPECT_EQ(CodeName(absl::StatusCode::kResourceExhausted),
            "RESOURCE_EXHAUSTED");
}

}  // namespace
}  // namespace quantd::auth
