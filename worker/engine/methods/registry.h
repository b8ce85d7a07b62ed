// The method registry: binds each entry of the method catalogue
// (contract/method_catalogue.h: name, parameters, checks) to its
// implementation's factory. Each method lives in its own file and exposes
// one MethodInfo (builtin_methods.h); adding a method is one catalogue
// entry, one method file and one line here. Also builds a job's recipe
// (contract/recipe.h): its transform stage with its rounding stage's
// WeightRounder plugged into the block sessions.
//
// The table is immutable and safe to read from any thread.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "worker/engine/methods/block_session.h"
#include "worker/engine/methods/method.h"
#include "worker/engine/methods/method_params.h"
#include "worker/engine/quant/scheme.h"

namespace quantd::engine::methods {

using RounderFactory =
    std::function<std::unique_ptr<WeightRounder>(const MethodParams&)>;

struct MethodInfo {
  std::string name;  // The catalogue entry's: "rtn", "osplus", ...
  const contract::MethodEntry* entry = nullptr;  // Summary, parameters.
  // The method run alone.
  std::function<std::unique_ptr<Method>(const MethodParams&)> make;
  // Rounding methods but RTN (the sessions' default): the rounding as a
  // recipe's last stage. Empty otherwise.
  RounderFactory make_rounder;
};

// The MethodInfo of catalogue entry `name` with its factory; aborts when
// the catalogue has no such entry (a build-time inconsistency).
MethodInfo BindMethod(
    std::string_view name,
    std::function<std::unique_ptr<Method>(const MethodParams&)> make);
// A rounding method: alone, RTN's flow with its rounding.
MethodInfo BindRoundingMethod(std::string_view name,
                              RounderFactory make_rounder);

// Every registered method, in the catalogue's order (one per entry; the
// names are contract::MethodNames()).
std::span<const MethodInfo> Methods();
// Null for an unknown name.
const MethodInfo* FindMethod(std::string_view name);

// contract::CheckMethodParams against the scheme, as MethodParams. Throws
// ParamError naming the field ("method: unknown method 'x' (expected ...)"
// for an unknown name, "method_params.<key>" for a bad parameter).
MethodParams ParseMethodParams(std::string_view method,
                               const nlohmann::json& params,
                               const quant::QuantScheme& scheme);

// A stage of a job's recipe with its checked parameters (the common ones
// included).
struct RecipeStage {
  const MethodInfo* info = nullptr;
  MethodParams params;
};

// contract::CheckRecipe: `method` is one method or stages joined by '+'.
// Throws ParamError naming "method" or "method_params.<stage>.<key>".
std::vector<RecipeStage> ParseRecipe(std::string_view method,
                                     const nlohmann::json& params,
                                     const quant::QuantScheme& scheme);
// The Method that runs the recipe: the single method, or the transform
// stage with the rounding stage's rounder.
std::unique_ptr<Method> MakeRecipeMethod(
    const std::vector<RecipeStage>& stages);

}  // namespace quantd::engine::methods
