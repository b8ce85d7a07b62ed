#include "contract/recipe.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "contract/contract_error.h"

namespace quantd::contract {
namespace {

using ::testing::HasSubstr;
using RawParams = std::vector<std::pair<std::string, RawParam>>;

RawParam Number(double value) {
  return {RawParam::Kind::kNumber, false, value, std::to_string(value), {}};
}
RawParam Bool(bool value) {
  return {RawParam::Kind::kBool, value, 0.0, value ? "true" : "false", {}};
}
RawParam Object(const RawParams& members) {
  RawParam object{RawParam::Kind::kObject, false, 0.0, "an object", {}};
  for (const auto& [key, value] : members)
    object.members.push_back({key, value});
  return object;
}

SchemeFacts Facts(std::string_view preset) {
  const SchemePreset parsed = ParseSchemePreset(preset);
  return {parsed.name, parsed.weights, parsed.activations};
}

// "field | message" of the refusal, or "no error".
std::string Refusal(std::string_view method, RawParams params = {},
                    std::string_view preset = "w8a8") {
  try {
    CheckRecipe(method, params, Facts(preset));
  } catch (const ContractError& error) {
    return error.field() + " | " + error.what();
  }
  return "no error";
}

std::vector<std::string> Names(std::string_view method) {
  std::vector<std::string> names;
  for (const MethodEntry* entry : ParseRecipe(method)) {
    names.push_back(entry->name);
  }
  return names;
}

TEST(RecipeTest, ASingleMethodIsARecipeOfOneStage) {
  EXPECT_EQ(Names("gptq"), std::vector<std::string>{"gptq"});
  const std::vector<RecipeStage> stages =
      CheckRecipe("smoothquant", {{"alpha", Number(0.8)}}, Facts("w8a8"));
  ASSERT_EQ(stages.size(), 1u);
  EXPECT_EQ(std::get<double>(stages[0].values.at("alpha")), 0.8);
  EXPECT_EQ(std::get<int64_t>(stages[0].values.at("batch_size")), 8);
}

TEST(RecipeTest, ATransformThenARoundingStage) {
  EXPECT_EQ(Names("osplus+gptq"), (std::vector<std::string>{"osplus", "gptq"}));
  EXPECT_EQ(Names("smoothquant+gptq"),
            (std::vector<std::string>{"smoothquant", "gptq"}));
  EXPECT_EQ(Names("osplus+rtn"), (std::vector<std::string>{"osplus", "rtn"}));
}

TEST(RecipeTest, RefusesBrokenStageLists) {
  EXPECT_EQ(Refusal(""), "method | required");
  EXPECT_THAT(Refusal("osplus++gptq"),
              HasSubstr("method | empty stage in 'osplus++gptq'"));
  EXPECT_THAT(Refusal("osplus+"), HasSubstr("method | empty stage"));
  EXPECT_THAT(Refusal("osplus+gtpq"),
              HasSubstr("method | unknown stage 'gtpq' in 'osplus+gtpq' "
                        "(expected one of: rtn, smoothquant"));
  EXPECT_THAT(Refusal("nosuch"), HasSubstr("method | unknown method 'nosuch'"));
  EXPECT_THAT(Refusal("rtn+gptq"),
              HasSubstr("method | two rounding stages (rtn, gptq)"));
  EXPECT_THAT(Refusal("gptq+osplus"),
              HasSubstr("method | 'gptq' rounds the weights, so it must be "
                        "the last stage"));
  EXPECT_THAT(Refusal("smoothquant+osplus+gptq"),
              HasSubstr("method | at most one transform stage before the "
                        "rounding, got smoothquant, osplus"));
  EXPECT_THAT(Refusal("osplus+omniquant"),
              HasSubstr("method | 'omniquant' runs alone"));
  EXPECT_THAT(Refusal("osplus+osplus"),
              HasSubstr("method | 'osplus' is given twice"));
}

TEST(RecipeTest, AWorkersMethodsMakeEveryTransformRoundingPair) {
  EXPECT_EQ(RecipesOf({"gptq", "osplus", "rtn", "omniquant", "nosuch"}),
            (std::vector<std::string>{"osplus+rtn", "osplus+gptq"}));
  EXPECT_TRUE(RecipesOf({"osplus"}).empty());
  for (const std::string& recipe :
       RecipesOf({"rtn", "smoothquant", "os", "osplus", "gptq"})) {
    EXPECT_NO_THROW(ParseRecipe(recipe)) << recipe;
  }
}

TEST(RecipeTest, EachStageGetsItsOwnParametersAndTheCommonOnes) {
  const std::vector<RecipeStage> stages = CheckRecipe(
      "osplus+gptq",
      {{"batch_size", Number(4)},
       {"osplus", Object({{"up_down", Bool(true)}})},
       {"gptq",
        Object({{"act_order", Bool(true)}, {"block_size", Number(64)}})}},
      Facts("w8a8"));
  ASSERT_EQ(stages.size(), 2u);
  EXPECT_EQ(stages[0].entry->name, "osplus");
  EXPECT_TRUE(std::get<bool>(stages[0].values.at("up_down")));
  EXPECT_EQ(std::get<int64_t>(stages[0].values.at("batch_size")), 4);
  EXPECT_EQ(stages[1].entry->name, "gptq");
  EXPECT_TRUE(std::get<bool>(stages[1].values.at("act_order")));
  EXPECT_EQ(std::get<int64_t>(stages[1].values.at("block_size")), 64);
  EXPECT_EQ(std::get<int64_t>(stages[1].values.at("batch_size")), 4);
  // Defaults where a stage names nothing.
  EXPECT_EQ(std::get<double>(stages[1].values.at("dampening_percent")), 0.01);
}

TEST(RecipeTest, NamesTheStageOfABadParameter) {
  EXPECT_THAT(
      Refusal("osplus+gptq", {{"gptq", Object({{"block_size", Number(0)}})}}),
      HasSubstr("method_params.gptq.block_size | must be in [1, "));
  EXPECT_THAT(
      Refusal("osplus+gptq", {{"gptq", Object({{"alpha", Number(0.5)}})}}),
      HasSubstr("method_params.gptq.alpha | unknown parameter (gptq "
                "takes: batch_size, dampening_percent"));
  EXPECT_THAT(Refusal("osplus+gptq", {{"gptq", Number(3)}}),
              HasSubstr("method_params.gptq | must be an object"));
  EXPECT_THAT(Refusal("osplus+gptq", {{"alpha", Number(0.5)}}),
              HasSubstr("method_params.alpha | unknown: a recipe's "
                        "method_params holds one object per stage (osplus, "
                        "gptq)"));
  EXPECT_THAT(
      Refusal("osplus+gptq", {{"osplus", Object({{"batch_size", Number(2)}})}}),
      HasSubstr("method_params.osplus.batch_size | common to every "
                "stage"));
  // A stage's cross-check against the scheme, under the stage's name.
  EXPECT_THAT(Refusal("osplus+gptq",
                      {{"gptq", Object({{"act_order", Bool(true)},
                                        {"static_groups", Bool(false)}})}},
                      "w4a16-g64"),
              HasSubstr("method_params.gptq.static_groups | act_order with "
                        "per-group weights"));
  EXPECT_THAT(
      Refusal("osplus+gptq", {{"osplus", Object({{"up_down", Bool(true)}})}},
              "w8a8-pt"),
      HasSubstr("method_params.osplus.up_down | needs per-channel"));
}

}  // namespace
}  // namespace quantd::contract
