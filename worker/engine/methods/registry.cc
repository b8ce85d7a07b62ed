#include "worker/engine/methods/registry.h"

#include <cstdio>
#include <cstdlib>

#include "contract/contract_error.h"
#include "worker/engine/methods/builtin_methods.h"
#include "worker/engine/methods/method_error.h"

namespace quantd::engine::methods {

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

std::span<const MethodInfo> Methods() {
  static const std::vector<MethodInfo> kMethods = {
      RtnMethodInfo(),    SmoothQuantMethodInfo(), OsMethodInfo(),
      OsPlusMethodInfo(), OmniQuantMethodInfo(),   GptqMethodInfo(),
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
  const contract::SchemeFacts facts{scheme.name,
                                    quant::ToContract(scheme.weight),
                                    quant::ToContract(scheme.activation)};
  try {
    return MethodParams(
        contract::CheckMethodParams(method, RawParamsOf(params), facts,
                                    params.is_null() || params.is_object()));
  } catch (const contract::ContractError& error) {
    throw ParamError(error.field(), error.what());
  }
}

}  // namespace quantd::engine::methods
