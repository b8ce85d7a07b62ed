// method_params validation names the field and the problem; defaults fill
// in; the registry knows every method and rejects unknown ones.
#include "worker/engine/methods/method_params.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "contract/method_catalogue.h"
#include "worker/engine/methods/method_error.h"
#include "worker/engine/methods/registry.h"

namespace quantd::engine::methods {
namespace {

using ::testing::HasSubstr;

std::string ParamErrorOf(const std::string& method,
                         const nlohmann::json& params,
                         const std::string& scheme = "w4a4") {
  try {
    ParseMethodParams(method, params, quant::ParseScheme(scheme));
  } catch (const ParamError& error) {
    return error.field() + " | " + error.what();
  }
  return "no error";
}

TEST(MethodParamsTest, FillsDefaults) {
  MethodParams params = ParseMethodParams("smoothquant", nlohmann::json(),
                                          quant::ParseScheme("w8a8"));
  EXPECT_DOUBLE_EQ(params.Number("alpha"), 0.5);
  EXPECT_FALSE(params.Bool("alpha_search"));
  EXPECT_EQ(params.Integer("batch_size"), 8);
  MethodParams osplus =
      ParseMethodParams("osplus", {{"search_tokens", 512}, {"up_down", true}},
                        quant::ParseScheme("w4a4"));
  EXPECT_EQ(osplus.Integer("search_tokens"), 512);
  EXPECT_TRUE(osplus.Bool("up_down"));
  EXPECT_FALSE(osplus.Has("lower_bound"));
}

TEST(MethodParamsTest, NamesTheFieldOfEveryProblem) {
  EXPECT_EQ(ParamErrorOf("smoothquant", {{"alpha", 2}}),
            "method_params.alpha | method_params.alpha: must be in [0, 1], "
            "got 2");
  EXPECT_THAT(ParamErrorOf("smoothquant", {{"alpah", 0.5}}),
              HasSubstr("method_params.alpah | method_params.alpah: unknown "
                        "parameter (smoothquant takes: batch_size, alpha"));
  EXPECT_THAT(ParamErrorOf("osplus", {{"up_down", "yes"}}),
              HasSubstr("method_params.up_down | "));
  EXPECT_THAT(ParamErrorOf("osplus", {{"search_tokens", 1.5}}),
              HasSubstr("must be an integer"));
  EXPECT_THAT(ParamErrorOf("rtn", nlohmann::json::array()),
              HasSubstr("method_params | "));
  EXPECT_THAT(
      ParamErrorOf("no_such_method", {}),
      HasSubstr("method | method: unknown method 'no_such_method' (expected "
                "one of: rtn, smoothquant, os, osplus, omniquant, gptq, awq)"));
}

TEST(MethodParamsTest, UpDownNeedsPerRowWeights) {
  EXPECT_THAT(ParamErrorOf("osplus", {{"up_down", true}}, "w8a8-pt"),
              HasSubstr("method_params.up_down | "));
  EXPECT_EQ(ParamErrorOf("osplus", {{"up_down", true}}, "w6a6"), "no error");
}

TEST(RegistryTest, EveryMethodIsBuiltFromItsDefaults) {
  for (const MethodInfo& info : Methods()) {
    // awq is weight-only and refuses quantized activations.
    const char* scheme = info.name == "awq" ? "w6a16" : "w6a6";
    MethodParams params = ParseMethodParams(info.name, nlohmann::json(),
                                            quant::ParseScheme(scheme));
    EXPECT_NE(info.make(params), nullptr) << info.name;
    ASSERT_NE(info.entry, nullptr) << info.name;
    EXPECT_FALSE(info.entry->summary.empty()) << info.name;
  }
  // One implementation per catalogue entry, in its order.
  const auto catalogue = contract::MethodCatalogue();
  ASSERT_EQ(Methods().size(), catalogue.size());
  for (size_t i = 0; i < catalogue.size(); ++i) {
    EXPECT_EQ(Methods()[i].name, catalogue[i].name);
  }
  EXPECT_EQ(FindMethod("no_such_method"), nullptr);
}

}  // namespace
}  // namespace quantd::engine::methods
