// The MethodInfo of each built-in method, one per method file (rtn.cc,
// smoothquant.cc, os.cc, osplus.cc, omniquant.cc, gptq.cc, awq.cc). Only
// registry.cc includes this.
#pragma once

#include "worker/engine/methods/registry.h"

namespace quantd::engine::methods {

MethodInfo RtnMethodInfo();
MethodInfo SmoothQuantMethodInfo();
MethodInfo OsMethodInfo();
MethodInfo OsPlusMethodInfo();
MethodInfo OmniQuantMethodInfo();
MethodInfo GptqMethodInfo();
MethodInfo AwqMethodInfo();

}  // namespace quantd::engine::methods
