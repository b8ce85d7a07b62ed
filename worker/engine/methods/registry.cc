#include "worker/engine/methods/registry.h"

#include <cstdio>
#include <cstdlib>

#include "contract/contract_error.h"
#include "contract/recipe.h"
#include "worker/engine/methods/builtin_methods.h"
#include "worker/engine/methods/method_error.h"

namespace quantd::engine::methods {
namespace {

// A method whose block sessions round the weights with `rounder`.
class RoundedMethod : public Method {
 public:
  RoundedMethod(std::unique_ptr<Method> base,
                std::unique_ptr<WeightRounder> rounder)
      : base_(std::move(base)), rounder_(std::move(rounder)) {}

  bool needs_fp_stream() const override { return base_->needs_fp_stream(); }
  // Every rounder fits the weights to calibration activations.
  bool reads_calibration(const quant::QuantScheme&) const override {
    return true;
  }

  BlockOutcome QuantizeBlock(model::Block& block, const BlockInputs& inputs,
                             const MethodContext& context) override {
    MethodContext rounded = context;
    rounded.rounder = rounder_.get();
    return base_->QuantizeBlock(block, inputs, rounded);
  }

 private:
  std::unique_ptr<Method> base_;
  std::unique_ptr<WeightRounder> rounder_;
};

contract::SchemeFacts FactsOf(const quant::QuantScheme& scheme) {
  return {scheme.name, quant::ToContract(scheme.weight),
          quant::ToContract(scheme.activation)};
}

}  // namespace

MethodInfo BindMethod(
    std::string_view name,
    std::function<std::unique_ptr<Method>(const MethodParams&)> make) {
  const contract::MethodEntry* entry = contract::FindMethodEntry(name);
  if (entry == nullptr) {
    std::fprintf(stderr, "method '%.*s' is not in contract/method_catalogue\n",
                 static_cast<int>(name.size()), name.data());
    std::abort();
  }
  return {entry->name, entry, std::move(make)};
}

MethodInfo BindRoundingMethod(std::string_view name,
                              RounderFactory make_rounder) {
  auto make = [make_rounder](const MethodParams& params) {
    std::unique_ptr<Method> flow = FindMethod("rtn")->make(params);
    return std::unique_ptr<Method>(
        std::make_unique<RoundedMethod>(std::move(flow), make_rounder(params)));
  };
  MethodInfo info = BindMethod(name, std::move(make));
  info.make_rounder = std::move(make_rounder);
  return info;
}

std::span<const MethodInfo> Methods() {
  static const std::vector<MethodInfo> kMethods = {
      RtnMethodInfo(),    SmoothQuantMethodInfo(), OsMethodInfo(),
      OsPlusMethodInfo(), OmniQuantMethodInfo(),   GptqMethodInfo(),
      AwqMethodInfo(),
  };
  return kMethods;
}

const MethodInfo* FindMethod(std::string_view name) {
  for (const MethodInfo& info : Methods()) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

MethodParams ParseMethodParams(std::string_view method,
                               const nlohmann::json& params,
                               const quant::QuantScheme& scheme) {
  try {
    return MethodParams(contract::CheckMethodParams(
        method, RawParamsOf(params), FactsOf(scheme),
        params.is_null() || params.is_object()));
  } catch (const contract::ContractError& error) {
    throw ParamError(error.field(), error.what());
  }
}

std::vector<RecipeStage> ParseRecipe(std::string_view method,
                                     const nlohmann::json& params,
                                     const quant::QuantScheme& scheme) {
  std::vector<contract::RecipeStage> checked;
  try {
    checked =
        contract::CheckRecipe(method, RawParamsOf(params), FactsOf(scheme),
                              params.is_null() || params.is_object());
  } catch (const contract::ContractError& error) {
    throw ParamError(error.field(), error.what());
  }
  std::vector<RecipeStage> stages;
  for (const contract::RecipeStage& stage : checked) {
    stages.push_back(
        {FindMethod(stage.entry->name), MethodParams(stage.values)});
  }
  return stages;
}

std::unique_ptr<Method> MakeRecipeMethod(
    const std::vector<RecipeStage>& stages) {
  const RecipeStage& last = stages.back();
  if (stages.size() == 1) return last.info->make(last.params);
  // contract::ParseRecipe: a transform, then a rounding stage.
  std::unique_ptr<Method> transform =
      stages.front().info->make(stages.front().params);
  if (!last.info->make_rounder) return transform;  // RTN: the default.
  return std::make_unique<RoundedMethod>(std::move(transform),
                                         last.info->make_rounder(last.params));
}

}  // namespace quantd::engine::methods
