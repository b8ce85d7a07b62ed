#include "common/config.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd {
namespace {

using ::testing::HasSubstr;

ConfigSchema TestSchema() {
  ConfigSchema schema;
  schema.AddString("listen", "127.0.0.1:7070", "address")
      .AddInt("lease.timeout_seconds", 30, "lease", 1, 3600)
      .AddDouble("ratio", 0.5, "ratio", 0.0, 1.0)
      .AddBool("verbose", false, "verbose")
      .AddString("log.format", "text", "format", {"text", "json"});
  return schema;
}

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string WriteFile(const std::string& text) {
  const std::string path =
      (std::filesystem::temp_directory_path() /
       ("quantd_config_test_" + std::to_string(::getpid()) + ".yaml"))
          .string();
  std::ofstream(path) << text;
  return path;
}

TEST(ConfigTest, DefaultsApplyWhenNothingIsGiven) {
  auto config = Config::Load(TestSchema(), {}, FakeEnv({}), "");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->GetString("listen"), "127.0.0.1:7070");
  EXPECT_EQ(config->GetInt("lease.timeout_seconds"), 30);
  EXPECT_DOUBLE_EQ(config->GetDouble("ratio"), 0.5);
  EXPECT_FALSE(config->GetBool("verbose"));
  EXPECT_EQ(config->SourceOf("listen"), "default");
}

TEST(ConfigTest, FlagsBeatEnvironmentWhichBeatsFile) {
  const std::string file = WriteFile(
      "listen: 0.0.0.0:1\nlease:\n  timeout_seconds: 11\nratio: 0.1\n");
  auto config = Config::Load(TestSchema(), {{"listen", "127.0.0.1:3"}},
                             FakeEnv({{"QUANTD_LISTEN", "127.0.0.1:2"},
                                      {"QUANTD_LEASE_TIMEOUT_SECONDS", "12"}}),
                             file);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->GetString("listen"), "127.0.0.1:3");
  EXPECT_EQ(config->SourceOf("listen"), "flag");
  EXPECT_EQ(config->GetInt("lease.timeout_seconds"), 12);
  EXPECT_EQ(config->SourceOf("lease.timeout_seconds"), "env");
  EXPECT_DOUBLE_EQ(config->GetDouble("ratio"), 0.1);
  EXPECT_EQ(config->SourceOf("ratio"), "file");
  std::remove(file.c_str());
}

TEST(ConfigTest, ErrorsNameTheKeyAndItsSource) {
  auto bad_int = Config::Load(
      TestSchema(), {}, FakeEnv({{"QUANTD_LEASE_TIMEOUT_SECONDS", "x"}}), "");
  ASSERT_FALSE(bad_int.ok());
  EXPECT_EQ(bad_int.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_int.status().message(),
              HasSubstr("QUANTD_LEASE_TIMEOUT_SECONDS: not an integer"));

  auto out_of_range =
      Config::Load(TestSchema(), {{"ratio", "2"}}, FakeEnv({}), "");
  EXPECT_THAT(out_of_range.status().message(),
              HasSubstr("--ratio: must be in"));

  auto bad_choice =
      Config::Load(TestSchema(), {{"log.format", "xml"}}, FakeEnv({}), "");
  EXPECT_THAT(bad_choice.status().message(), HasSubstr("must be one of"));

  const std::string file = WriteFile("listne: typo\n");
  auto unknown = Config::Load(TestSchema(), {}, FakeEnv({}), file);
  EXPECT_THAT(unknown.status().message(), HasSubstr("listne: unknown key"));
  std::remove(file.c_str());
}

TEST(ConfigTest, MalformedFileIsInvalidArgument) {
  const std::string file = WriteFile("listen: [unclosed\n");
  auto config = Config::Load(TestSchema(), {}, FakeEnv({}), file);
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  std::remove(file.c_str());
  auto missing =
      Config::Load(TestSchema(), {}, FakeEnv({}), "/nonexistent.yaml");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
}

// Found while writing fuzz/worker_config_fuzzer (which reproduces it): a
// list or map as a key threw YAML::TypedBadConversion out of Config::Load,
// and quantd or quantd-worker died in std::terminate.
TEST(ConfigTest, NonScalarKeysAreInvalidArgument) {
  for (const char* text :
       {"{[a]: 1}\n", "? {a: 1}\n: x\n", "log:\n  [levels]: info\n"}) {
    const std::string file = WriteFile(text);
    auto config = Config::Load(TestSchema(), {}, FakeEnv({}), file);
    std::remove(file.c_str());
    ASSERT_FALSE(config.ok()) << text;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(config.status().message(),
                HasSubstr("keys must be plain names"));
  }
}

TEST(ConfigTest, DashesAndUnderscoresNameTheSameKey) {
  ConfigSchema schema;
  schema.AddString("data_dir", "/var/lib/quantd", "data");
  const std::string file = WriteFile("data-dir: /srv/q\n");
  auto from_file = Config::Load(schema, {}, FakeEnv({}), file);
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_EQ(from_file->GetString("data_dir"), "/srv/q");
  std::remove(file.c_str());
  EXPECT_EQ(ConfigSchema::AlternateSpelling("metrics_listen-x"),
            "metrics-listen_x");
  EXPECT_NE(schema.Find("data-dir"), nullptr);
}

TEST(ConfigTest, EnvNameUppercasesAndReplacesSeparators) {
  EXPECT_EQ(ConfigSchema::EnvName("lease.timeout-seconds"),
            "QUANTD_LEASE_TIMEOUT_SECONDS");
}

}  // namespace
}  // namespace quantd
