#include "client/quantctl/flag_values.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::client {
namespace {

using ::testing::HasSubstr;

TEST(FlagValuesTest, ParsesIntegersWithinRange) {
  EXPECT_EQ(*ParseIntFlag("12", "--x", 1, 20), 12);
  const auto high = ParseIntFlag("21", "--x", 1, 20);
  EXPECT_EQ(high.status().message(), "--x: must be in 1..20, got 21");
  const auto junk = ParseIntFlag("1.5", "--x", 1, 20);
  EXPECT_EQ(junk.status().message(), "--x: not an integer: \"1.5\"");
  EXPECT_FALSE(ParseUintFlag("-1", "--seed").ok());
  EXPECT_EQ(*ParseUintFlag("18446744073709551615", "--seed"),
            18446744073709551615ull);
}

TEST(FlagValuesTest, KeyValueKeepsEqualsInTheValue) {
  const auto pair = ParseKeyValue("expr=a=b", "--label");
  ASSERT_TRUE(pair.ok());
  EXPECT_EQ(pair->first, "expr");
  EXPECT_EQ(pair->second, "a=b");
  EXPECT_THAT(std::string(ParseKeyValue("=v", "--label").status().message()),
              HasSubstr("expected key=value"));
  EXPECT_FALSE(ParseKeyValue("novalue", "--label").ok());
}

TEST(FlagValuesTest, LabelsRejectDuplicatesAndLongValues) {
  EXPECT_EQ(ParseLabels({"a=1", "b=2"}, "--label")->size(), 2u);
  EXPECT_THAT(
      std::string(ParseLabels({"a=1", "a=2"}, "--label").status().message()),
      HasSubstr("label \"a\" given twice"));
  EXPECT_FALSE(ParseLabels({"k=" + std::string(64, 'v')}, "--label").ok());
  std::vector<std::string> many;
  for (int i = 0; i < 33; ++i) many.push_back("k" + std::to_string(i) + "=v");
  EXPECT_THAT(std::string(ParseLabels(many, "--label").status().message()),
              HasSubstr("at most 32 labels"));
}

TEST(FlagValuesTest, ParamsKeepJsonTypes) {
  const auto params = ParseParams({"alpha=0.5", "up_down=true", "name=minmax",
                                   "list=[1,2]", "quoted=\"7\""},
                                  "--param");
  ASSERT_TRUE(params.ok()) << params.status();
  const auto& fields = params->fields();
  EXPECT_DOUBLE_EQ(fields.at("alpha").number_value(), 0.5);
  EXPECT_TRUE(fields.at("up_down").bool_value());
  EXPECT_EQ(fields.at("name").string_value(), "minmax");
  EXPECT_EQ(fields.at("list").list_value().values_size(), 2);
  EXPECT_EQ(fields.at("quoted").string_value(), "7");
  EXPECT_THAT(
      std::string(ParseParams({"a=1", "a=2"}, "--param").status().message()),
      HasSubstr("--param: parameter \"a\" given twice"));
}

TEST(FlagValuesTest, DottedParamsNestUnderARecipeStage) {
  const auto params = ParseParams({"batch_size=4", "gptq.act_order=true",
                                   "gptq.block_size=64", "osplus.up_down=true"},
                                  "--param");
  ASSERT_TRUE(params.ok()) << params.status();
  const auto& fields = params->fields();
  EXPECT_EQ(fields.at("batch_size").number_value(), 4);
  const auto& gptq = fields.at("gptq").struct_value().fields();
  EXPECT_TRUE(gptq.at("act_order").bool_value());
  EXPECT_EQ(gptq.at("block_size").number_value(), 64);
  EXPECT_TRUE(
      fields.at("osplus").struct_value().fields().at("up_down").bool_value());
  auto error = [](std::vector<std::string> pairs) {
    return std::string(ParseParams(pairs, "--param").status().message());
  };
  EXPECT_THAT(error({"gptq=1", "gptq.block_size=64"}),
              HasSubstr("--param: parameter \"gptq.block_size\" conflicts"));
  EXPECT_THAT(error({"gptq.block_size=64", "gptq.block_size=32"}),
              HasSubstr("given twice"));
  EXPECT_THAT(error({"gptq.=1"}), HasSubstr("has an empty key"));
  EXPECT_THAT(error({".x=1"}), HasSubstr("has an empty key"));
  EXPECT_THAT(error({"gptq.block_size=64", "gptq=1"}),
              HasSubstr("\"gptq\" given twice"));
}

}  // namespace
}  // namespace quantd::client
