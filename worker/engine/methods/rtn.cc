// RTN: the MinMax baseline. No transformation; every weight is rounded to
// its nearest grid point with MinMax ranges and the activations get the
// scheme's quantizers with their default observers (AvgMinMax for static
// per-tensor activations), calibrated on the quantized stream.
#include "worker/engine/methods/block_session.h"
#include "worker/engine/methods/builtin_methods.h"

namespace quantd::engine::methods {
namespace {

class RtnMethod : public Method {
 public:
  // Only static activation quantizers are calibrated; dynamic ones and the
  // weights need no data.
  bool reads_calibration(const quant::QuantScheme& scheme) const override {
    const ActivationPlan plan = DefaultActivationPlan(scheme);
    for (const quant::QuantConfig* config :
         {&plan.sites, &plan.attention, &plan.probabilities}) {
      if (config->enabled && !config->dynamic) return true;
    }
    return false;
  }

  BlockOutcome QuantizeBlock(model::Block& block, const BlockInputs& inputs,
                             const MethodContext& context) override {
    return RunStandardFlow(block, inputs, context,
                           DefaultActivationPlan(*context.scheme), nullptr);
  }
};

}  // namespace

MethodInfo RtnMethodInfo() {
  return BindMethod(
      "rtn", [](const MethodParams&) { return std::make_unique<RtnMethod>(); });
}

}  // namespace quantd::engine::methods
