#include "contract/recipe.h"

#include <algorithm>

#include "contract/contract_error.h"

namespace quantd::contract {
namespace {

using RawParams = std::vector<std::pair<std::string, RawParam>>;

std::string Quoted(std::string_view text) {
  return "'" + std::string(text) + "'";
}

std::string StageNames(const std::vector<const MethodEntry*>& stages) {
  std::string names;
  for (const MethodEntry* entry : stages) {
    names += names.empty() ? entry->name : ", " + entry->name;
  }
  return names;
}

// The structure rules over the parsed stages of a list.
void CheckStageRoles(std::string_view method,
                     const std::vector<const MethodEntry*>& stages) {
  std::vector<const MethodEntry*> transforms;
  std::vector<const MethodEntry*> rounding;
  for (size_t i = 0; i < stages.size(); ++i) {
    const MethodEntry* entry = stages[i];
    if (std::count(stages.begin(), stages.begin() + i, entry) != 0) {
      throw ContractError("method", Quoted(entry->name) +
                                        " is given twice in " + Quoted(method));
    }
    switch (entry->role) {
      case StageRole::kStandalone:
        throw ContractError("method",
                            Quoted(entry->name) +
                                " runs alone (it learns its own "
                                "transformation and rounding); it cannot be "
                                "a stage of " +
                                Quoted(method));
      case StageRole::kRounding:
        rounding.push_back(entry);
        break;
      case StageRole::kTransform:
        transforms.push_back(entry);
        break;
    }
  }
  if (rounding.size() > 1) {
    throw ContractError("method", "two rounding stages (" +
                                      StageNames(rounding) +
                                      "): a recipe rounds the weights once, "
                                      "with its last stage");
  }
  if (!rounding.empty() && rounding.front() != stages.back()) {
    throw ContractError("method", Quoted(rounding.front()->name) +
                                      " rounds the weights, so it must be the "
                                      "last stage of " +
                                      Quoted(method));
  }
  if (transforms.size() > 1) {
    throw ContractError("method",
                        "at most one transform stage before the rounding, "
                        "got " +
                            StageNames(transforms));
  }
}

// A stage's check names "method_params.<key>"; in a recipe the key lives
// under the stage's object.
ContractError InStage(const ContractError& error, const std::string& stage) {
  const std::string prefix = "method_params.";
  if (error.field().rfind(prefix, 0) != 0 ||
      error.field().rfind(prefix + stage + ".", 0) == 0) {
    return error;
  }
  return ContractError(
      prefix + stage + "." + error.field().substr(prefix.size()), error.what());
}

}  // namespace

std::vector<const MethodEntry*> ParseRecipe(std::string_view method) {
  if (method.empty()) throw ContractError("method", "required");
  std::vector<const MethodEntry*> stages;
  const bool single = method.find('+') == std::string_view::npos;
  size_t start = 0;
  while (start <= method.size()) {
    const size_t end = std::min(method.find('+', start), method.size());
    const std::string_view name = method.substr(start, end - start);
    if (name.empty()) {
      throw ContractError("method", "empty stage in " + Quoted(method));
    }
    const MethodEntry* entry = FindMethodEntry(name);
    if (entry == nullptr) {
      throw ContractError(
          "method",
          (single ? "unknown method " + Quoted(name)
                  : "unknown stage " + Quoted(name) + " in " + Quoted(method)) +
              " (expected one of: " + MethodNames() + ")");
    }
    stages.push_back(entry);
    start = end + 1;
  }
  if (stages.size() > 1) CheckStageRoles(method, stages);
  return stages;
}

std::vector<std::string> RecipesOf(const std::vector<std::string>& methods) {
  auto has = [&methods](const MethodEntry& entry) {
    return std::find(methods.begin(), methods.end(), entry.name) !=
           methods.end();
  };
  std::vector<std::string> recipes;
  for (const MethodEntry& transform : MethodCatalogue()) {
    if (transform.role != StageRole::kTransform || !has(transform)) continue;
    for (const MethodEntry& rounding : MethodCatalogue()) {
      if (rounding.role != StageRole::kRounding || !has(rounding)) continue;
      recipes.push_back(transform.name + "+" + rounding.name);
    }
  }
  return recipes;
}

std::vector<RecipeStage> CheckRecipe(std::string_view method,
                                     const RawParams& params,
                                     const SchemeFacts& scheme,
                                     bool params_is_object) {
  const std::vector<const MethodEntry*> stages = ParseRecipe(method);
  if (!params_is_object) {
    throw ContractError("method_params", "must be an object");
  }
  if (stages.size() == 1) {
    return {{stages.front(), CheckEntryParams(*stages.front(), params, scheme,
                                              "method_params")}};
  }
  RawParams common;
  for (const auto& [key, value] : params) {
    const std::string& name = key;
    const bool is_stage = std::any_of(
        stages.begin(), stages.end(),
        [&name](const MethodEntry* entry) { return entry->name == name; });
    if (is_stage) {
      if (value.kind != RawParam::Kind::kObject) {
        throw ContractError(
            "method_params." + key,
            "must be an object of " + key + "'s parameters, got " + value.text);
      }
      continue;
    }
    if (!IsCommonParam(key)) {
      throw ContractError("method_params." + key,
                          "unknown: a recipe's method_params holds one "
                          "object per stage (" +
                              StageNames(stages) +
                              ") and the parameters every method takes");
    }
    common.emplace_back(key, value);
  }
  std::vector<RecipeStage> checked;
  for (const MethodEntry* entry : stages) {
    RawParams own = common;
    for (const auto& [key, value] : params) {
      if (key != entry->name) continue;
      for (const auto& [member, member_value] : value.members) {
        if (IsCommonParam(member)) {
          throw ContractError("method_params." + key + "." + member,
                              "common to every stage: give it at the top "
                              "level of method_params");
        }
        own.emplace_back(member, member_value);
      }
    }
    try {
      checked.push_back(
          {entry, CheckEntryParams(*entry, own, scheme,
                                   "method_params." + entry->name)});
    } catch (const ContractError& error) {
      throw InStage(error, entry->name);
    }
  }
  return checked;
}

}  // namespace quantd::contract
