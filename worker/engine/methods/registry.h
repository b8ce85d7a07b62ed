// The method registry: every quantization method by name, with the
// parameters it accepts and a factory. Each method lives in its own file
// and exposes one MethodInfo (builtin_methods.h); adding a method adds one
// entry here and touches no other method.
//
// The table is immutable and safe to read from any thread.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "worker/engine/methods/method.h"
#include "worker/engine/methods/method_params.h"
#include "worker/engine/quant/scheme.h"

namespace quantd::engine::methods {

struct MethodInfo {
  std::string name;     // "rtn", "smoothquant", "os", "osplus"
  std::string summary;  // One line for `probe` and docs.
  // Keys of method_params this method accepts (the common ones included).
  std::vector<ParamSpec> params;
  // Cross-checks against the scheme; throws ParamError naming the field.
  // May be empty.
  std::function<void(const MethodParams&, const quant::QuantScheme&)> validate;
  std::function<std::unique_ptr<Method>(const MethodParams&)> make;
};

// Parameters every method takes:
//   batch_size  calibration batch (samples per forward; batch 0 is the
//               statistics batch), integer in [1, 4096], default 8.
std::vector<ParamSpec> CommonParams();

// Every registered method, in a fixed order.
std::span<const MethodInfo> Methods();
// Null for an unknown name.
const MethodInfo* FindMethod(std::string_view name);
// "rtn, smoothquant, os, osplus"
std::string MethodNames();

// FindMethod + MethodParams::Parse + validate. Throws ParamError naming the
// field ("method: unknown method 'x' (expected ...)" for an unknown name).
MethodParams ParseMethodParams(std::string_view method,
                               const nlohmann::json& params,
                               const quant::QuantScheme& scheme);

}  // namespace quantd::engine::methods
