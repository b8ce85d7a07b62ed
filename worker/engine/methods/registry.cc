#include "worker/engine/methods/registry.h"

#include "worker/engine/methods/builtin_methods.h"
#include "worker/engine/methods/method_error.h"

namespace quantd::engine::methods {

std::vector<ParamSpec> CommonParams() {
  return {{"batch_size", ParamType::kInteger, 1, 4096, 8,
           "calibration samples per forward; batch 0 gives the statistics"}};
}

std::span<const MethodInfo> Methods() {
  static const std::vector<MethodInfo> kMethods = {
      RtnMethodInfo(), SmoothQuantMethodInfo(), OsMethodInfo(),
      OsPlusMethodInfo(), OmniQuantMethodInfo()};
  return kMethods;
}

const MethodInfo* FindMethod(std::string_view name) {
  for (const MethodInfo& info : Methods()) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

std::string MethodNames() {
  std::string names;
  for (const MethodInfo& info : Methods()) {
    names += names.empty() ? info.name : ", " + info.name;
  }
  return names;
}

MethodParams ParseMethodParams(std::string_view method,
                               const nlohmann::json& params,
                               const quant::QuantScheme& scheme) {
  const MethodInfo* info = FindMethod(method);
  if (info == nullptr) {
    throw ParamError("method", "unknown method '" + std::string(method) +
                                   "' (expected one of: " + MethodNames() +
                                   ")");
  }
  MethodParams parsed = MethodParams::Parse(params, info->params);
  if (info->validate) info->validate(parsed, scheme);
  return parsed;
}

}  // namespace quantd::engine::methods
