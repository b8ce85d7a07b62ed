#include "client/quantctl/output_format.h"

#include "gtest/gtest.h"
#include "yaml-cpp/yaml.h"

namespace quantd::client {
namespace {

TEST(OutputFormatTest, ParsesTheThreeFormats) {
  EXPECT_EQ(*ParseOutputFormat("table"), OutputFormat::kTable);
  EXPECT_EQ(*ParseOutputFormat("json"), OutputFormat::kJson);
  EXPECT_EQ(*ParseOutputFormat("yaml"), OutputFormat::kYaml);
  EXPECT_EQ(ParseOutputFormat("xml").status().message(),
            "--output: must be one of {table, json, yaml}, got \"xml\"");
}

TEST(OutputFormatTest, JsonRoundTrips) {
  const nlohmann::json value = {{"id", "j-1"}, {"n", 3}, {"ok", true}};
  EXPECT_EQ(nlohmann::json::parse(RenderDocument(value, OutputFormat::kJson)),
            value);
  EXPECT_EQ(RenderDocument(value, OutputFormat::kTable), "");
}

TEST(OutputFormatTest, YamlKeepsTypesOfAmbiguousStrings) {
  const nlohmann::json value = {{"state", "SUCCEEDED"},
                                {"looks_bool", "true"},
                                {"looks_number", "1.5"},
                                {"looks_null", "null"},
                                {"time", "2025-01-02T10:11:12Z"},
                                {"empty", ""},
                                {"number", 2.5},
                                {"tiny", 1e-05},
                                {"count", 7},
                                {"flag", false},
                                {"nothing", nullptr},
                                {"list", {1, "two"}},
                                {"nested", {{"a", "b"}}}};
  const YAML::Node node = YAML::Load(JsonToYaml(value));
  EXPECT_EQ(node["state"].as<std::string>(), "SUCCEEDED");
  EXPECT_EQ(node["looks_bool"].Tag(), "!");  // quoted: a string
  EXPECT_EQ(node["looks_number"].Tag(), "!");
  EXPECT_EQ(node["looks_null"].Tag(), "!");
  EXPECT_EQ(node["time"].Tag(), "!");
  EXPECT_EQ(node["empty"].as<std::string>(), "");
  EXPECT_DOUBLE_EQ(node["number"].as<double>(), 2.5);
  EXPECT_DOUBLE_EQ(node["tiny"].as<double>(), 1e-05);
  EXPECT_EQ(node["count"].as<int>(), 7);
  EXPECT_FALSE(node["flag"].as<bool>());
  EXPECT_TRUE(node["nothing"].IsNull());
  EXPECT_EQ(node["list"][1].as<std::string>(), "two");
  EXPECT_EQ(node["nested"]["a"].as<std::string>(), "b");
  // Floats carry a '.' so YAML 1.1 readers see a float too.
  EXPECT_NE(JsonToYaml(value).find("tiny: 1.0e-05"), std::string::npos);
}

}  // namespace
}  // namespace quantd::client
