// Recipes: a job's `method` names one method ("gptq") or an ordered list
// of stages joined by '+' ("osplus+gptq", "smoothquant+gptq", "awq+gptq").
// A recipe has at most one transform stage (equivalent transformations)
// followed by at most one rounding stage; the transform runs first and the
// rounding stage rounds the weights it leaves, block by block in one pass
// (RTN when the recipe names no rounding stage). A standalone method
// (omniquant) runs alone. The catalogue's StageRole says which is which.
//
// A recipe's `method_params` holds one object per stage, keyed by its name,
// plus the parameters common to every method at the top level:
//   {"batch_size": 4, "osplus": {"up_down": true}, "gptq": {"act_order": true}}
// A single method's method_params are its own, flat, as before. Refusals
// name the field: "method" for the stage list, "method_params.<stage>.<key>"
// for a stage's parameter.
//
// Plain values and functions; no LibTorch, gRPC or protobuf. Thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "contract/method_catalogue.h"

namespace quantd::contract {

struct RecipeStage {
  const MethodEntry* entry = nullptr;
  // Checked, defaults filled; the common parameters included.
  ParamValues values;
};

// The stages of `method`, in order. Throws ContractError naming "method":
// empty, an empty or unknown stage, a stage given twice, a standalone
// method in a list, two rounding stages, a rounding stage not last, more
// than one transform stage.
std::vector<const MethodEntry*> ParseRecipe(std::string_view method);

// Every recipe of two stages that `methods` (a worker's) make: each
// transform among them with each rounding method among them, "osplus+gptq",
// in the catalogue's order. Names the catalogue does not know are skipped.
std::vector<std::string> RecipesOf(const std::vector<std::string>& methods);

// ParseRecipe, then every stage's parameters against the catalogue and the
// scheme (CheckMethodParams for a single method). Throws ContractError.
std::vector<RecipeStage> CheckRecipe(
    std::string_view method,
    const std::vector<std::pair<std::string, RawParam>>& params,
    const SchemeFacts& scheme, bool params_is_object = true);

}  // namespace quantd::contract
