#include "contract/method_catalogue.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "contract/contract_error.h"

namespace quantd::contract {
namespace {

using ::testing::HasSubstr;

RawParam Number(double value, std::string text) {
  return {RawParam::Kind::kNumber, false, value, std::move(text)};
}
RawParam Bool(bool value) {
  return {RawParam::Kind::kBool, value, 0.0, value ? "true" : "false"};
}

SchemeFacts Facts(std::string_view preset) {
  const SchemePreset parsed = ParseSchemePreset(preset);
  return {parsed.name, parsed.weights, parsed.activations};
}

// "field | message" of the refusal, or "no error".
std::string Refusal(std::string_view method,
                    std::vector<std::pair<std::string, RawParam>> params,
                    std::string_view preset = "w6a6") {
  try {
    CheckMethodParams(method, params, Facts(preset));
  } catch (const ContractError& error) {
    return error.field() + " | " + error.what();
  }
  return "no error";
}

TEST(MethodCatalogueTest, ListsEveryMethodWithItsParameters) {
  EXPECT_EQ(MethodNames(),
            "rtn, smoothquant, os, osplus, omniquant, gptq, awq");
  for (const MethodEntry& entry : MethodCatalogue()) {
    EXPECT_FALSE(entry.summary.empty()) << entry.name;
    ASSERT_FALSE(entry.params.empty()) << entry.name;
    EXPECT_EQ(entry.params.front().key, "batch_size") << entry.name;
    for (const ParamSpec& spec : entry.params) {
      EXPECT_FALSE(spec.help.empty()) << entry.name << "." << spec.key;
    }
  }
  EXPECT_EQ(FindMethodEntry("no_such_method"), nullptr);
}

TEST(MethodCatalogueTest, FillsDefaultsWithTheirTypes) {
  const ParamValues values = CheckMethodParams(
      "osplus", {{"search_tokens", Number(512, "512")}}, Facts("w8a8"));
  EXPECT_EQ(std::get<int64_t>(values.at("search_tokens")), 512);
  EXPECT_EQ(std::get<int64_t>(values.at("batch_size")), 8);
  EXPECT_TRUE(std::get<bool>(values.at("shift")));
  EXPECT_FALSE(values.contains("lower_bound"));  // No default.
  const ParamValues smooth =
      CheckMethodParams("smoothquant", {}, Facts("w8a8"));
  EXPECT_DOUBLE_EQ(std::get<double>(smooth.at("alpha")), 0.5);
}

TEST(MethodCatalogueTest, RefusalsNameTheField) {
  EXPECT_EQ(Refusal("smoothquant", {{"alpha", Number(2, "2")}}),
            "method_params.alpha | must be in [0, 1], got 2");
  EXPECT_THAT(Refusal("smoothquant", {{"alpah", Number(0.5, "0.5")}}),
              HasSubstr("method_params.alpah | unknown parameter "
                        "(smoothquant takes: batch_size, alpha"));
  EXPECT_THAT(Refusal("osplus", {{"up_down", Number(1, "1")}}),
              HasSubstr("method_params.up_down | must be true or false"));
  EXPECT_THAT(Refusal("osplus", {{"search_tokens", Number(1.5, "1.5")}}),
              HasSubstr("must be an integer"));
  EXPECT_THAT(Refusal("no_such_method", {}),
              HasSubstr("method | unknown method"));
  try {
    CheckMethodParams("rtn", {}, Facts("w8a8"), /*params_is_object=*/false);
    FAIL();
  } catch (const ContractError& error) {
    EXPECT_EQ(error.field(), "method_params");
  }
}

TEST(MethodCatalogueTest, CrossChecksAgainstTheScheme) {
  EXPECT_THAT(Refusal("osplus", {{"up_down", Bool(true)}}, "w8a8-pt"),
              HasSubstr("method_params.up_down | needs per-channel"));
  EXPECT_EQ(Refusal("osplus", {{"up_down", Bool(true)}}, "w6a6"), "no error");
  EXPECT_THAT(Refusal("omniquant", {{"bmm", Bool(true)}}, "w4a16"),
              HasSubstr("method_params.bmm | needs quantized activations"));
  EXPECT_THAT(Refusal("omniquant", {{"bmm", Bool(true)}}, "w4a4-g64"),
              HasSubstr("per-group activations"));
}

}  // namespace
}  // namespace quantd::contract
