#include "worker/engine/methods/omniquant_trainer.h"

#include <ATen/autocast_mode.h>
#include <ATen/core/grad_mode.h>
#include <c10/util/StringUtil.h>

#include <cmath>
#include <optional>

#include "worker/engine/methods/method_error.h"

namespace quantd::engine::methods {
namespace {

// PyTorch's AdamW defaults.
constexpr double kBeta1 = 0.9;
constexpr double kBeta2 = 0.999;
constexpr double kEpsilon = 1e-8;

// bfloat16 autocast on one device type for the scope's lifetime; restores
// the previous state (and drops the cast cache) when it ends.
class AutocastScope {
 public:
  AutocastScope(at::DeviceType device, bool enabled)
      : device_(device), enabled_(enabled) {
    if (!enabled_) return;
    was_enabled_ = at::autocast::is_autocast_enabled(device_);
    was_dtype_ = at::autocast::get_autocast_dtype(device_);
    at::autocast::set_autocast_dtype(device_, at::kBFloat16);
    at::autocast::set_autocast_enabled(device_, true);
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (!enabled_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(device_, was_enabled_);
    at::autocast::set_autocast_dtype(device_, was_dtype_);
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  at::DeviceType device_;
  bool enabled_;
  bool was_enabled_ = false;
  at::ScalarType was_dtype_ = at::kFloat;
};

}  // namespace

AdamW::AdamW(std::vector<Group> groups, double weight_decay)
    : groups_(std::move(groups)), weight_decay_(weight_decay) {
  for (const Group& group : groups_) {
    std::vector<State> states;
    for (const at::Tensor& parameter : group.parameters) {
      states.push_back({at::zeros_like(parameter), at::zeros_like(parameter)});
    }
    states_.push_back(std::move(states));
  }
}

void AdamW::ZeroGrad() {
  for (Group& group : groups_) {
    for (at::Tensor& parameter : group.parameters) {
      parameter.mutable_grad().reset();
    }
  }
}

void AdamW::Step() {
  at::NoGradGuard no_grad;
  ++step_;
  const double correction1 = 1.0 - std::pow(kBeta1, step_);
  const double correction2_sqrt = std::sqrt(1.0 - std::pow(kBeta2, step_));
  for (size_t g = 0; g < groups_.size(); ++g) {
    const double lr = groups_[g].lr;
    for (size_t i = 0; i < groups_[g].parameters.size(); ++i) {
      at::Tensor& parameter = groups_[g].parameters[i];
      const at::Tensor& grad = parameter.grad();
      if (!grad.defined()) continue;
      State& state = states_[g][i];
      if (weight_decay_ != 0.0) parameter.mul_(1.0 - lr * weight_decay_);
      state.exp_avg.lerp_(grad, 1.0 - kBeta1);
      state.exp_avg_sq.mul_(kBeta2).addcmul_(grad, grad, 1.0 - kBeta2);
      const at::Tensor denom =
          (state.exp_avg_sq.sqrt() / correction2_sqrt).add_(kEpsilon);
      parameter.addcdiv_(state.exp_avg, denom, -lr / correction1);
    }
  }
}

BlockTrainer::BlockTrainer(
    model::Block& block, LearnableTransform& let,
    std::map<std::string, LearnableClipping>& clipping,
    std::map<model::HookPoint, quant::QuantConfig> activations,
    ContextCache& contexts)
    : block_(block),
      let_(let),
      clipping_(clipping),
      activations_(std::move(activations)),
      contexts_(contexts) {
  for (const std::string& name : block_.LinearNames()) {
    if (clipping_.count(name) == 0) {
      throw MethodError("OmniQuant, block " + block_.prefix() +
                        ": no weight clipping for '" + name + "'");
    }
  }
}

BlockTrainer::~BlockTrainer() { block_.ClearHooks(); }

at::Tensor BlockTrainer::Forward(const at::Tensor& x, Rounding& rounding) {
  const std::map<model::HookPoint, InputTransform> transforms =
      let_.Apply(block_);
  for (const std::string& name : block_.LinearNames()) {
    model::Linear& layer = block_.linear(name);
    layer.weight = clipping_.at(name).Apply(layer.weight, rounding);
  }
  block_.ClearHooks();
  for (int i = 0; i < model::kNumHookPoints; ++i) {
    const auto point = static_cast<model::HookPoint>(i);
    auto config = activations_.find(point);
    auto transform = transforms.find(point);
    if (config == activations_.end() && transform == transforms.end()) {
      continue;
    }
    std::optional<quant::QuantConfig> quantizer;
    if (config != activations_.end()) quantizer = config->second;
    InputTransform t =
        transform == transforms.end() ? InputTransform() : transform->second;
    block_.SetHook(point, [quantizer, t, &rounding](const at::Tensor& a) {
      at::Tensor y = t.Apply(a);
      return quantizer ? OmniFakeQuantizeDynamic(y, *quantizer, rounding) : y;
    });
  }
  // The hooks refer to `rounding`: they must not outlive this call.
  at::Tensor output;
  try {
    output = block_.Forward(x, contexts_.For(x.size(0)));
  } catch (...) {
    block_.ClearHooks();
    throw;
  }
  block_.ClearHooks();
  return output;
}

at::Tensor BlockTrainer::Loss(const TrainingData& data, int64_t begin,
                              int64_t end, Rounding& rounding) {
  const at::Tensor output = Forward(data.inputs.slice(0, begin, end), rounding);
  at::Tensor loss = at::mse_loss(output, data.targets.slice(0, begin, end));
  if (data.aug_targets.defined()) {
    loss = loss + at::mse_loss(output, data.aug_targets.slice(0, begin, end));
  }
  return loss;
}

double BlockTrainer::MeanLoss(const TrainingData& data, int64_t batch) {
  at::NoGradGuard no_grad;
  Rounding rounding;
  const int64_t samples = data.inputs.size(0);
  double sum = 0.0;
  for (int64_t begin = 0; begin < samples; begin += batch) {
    const int64_t end = std::min(begin + batch, samples);
    sum += Loss(data, begin, end, rounding).item<double>() *
           static_cast<double>(end - begin);
  }
  return samples == 0 ? 0.0 : sum / static_cast<double>(samples);
}

std::vector<double> BlockTrainer::Train(const TrainingData& data,
                                        const TrainingOptions& options,
                                        const EpochCallback& on_epoch) {
  std::vector<AdamW::Group> groups;
  groups.push_back({let_.parameters(), options.let_lr});
  std::vector<at::Tensor> clipping_parameters;
  for (const auto& [name, clipping] : clipping_) {
    for (const at::Tensor& p : clipping.parameters()) {
      clipping_parameters.push_back(p);
    }
  }
  groups.push_back({std::move(clipping_parameters), options.lwc_lr});
  AdamW optimizer(std::move(groups));
  Rounding rounding;
  const int64_t samples = data.inputs.size(0);
  std::vector<double> losses;
  for (int64_t epoch = 0; epoch < options.epochs; ++epoch) {
    double sum = 0.0;
    int64_t steps = 0;
    for (int64_t begin = 0; begin < samples; begin += options.batch) {
      let_.Truncate();
      at::Tensor loss;
      {
        AutocastScope autocast(data.inputs.device().type(),
                               options.mixed_precision);
        loss = Loss(data, begin, std::min(begin + options.batch, samples),
                    rounding)
                   .to(at::kFloat);
      }
      const double value = loss.item<double>();
      if (!std::isfinite(value)) {
        throw MethodError(c10::str("OmniQuant, block ", block_.prefix(),
                                   ": training loss is ", value, " at epoch ",
                                   epoch, ", sample ", begin));
      }
      optimizer.ZeroGrad();
      loss.backward();
      optimizer.Step();
      sum += value;
      ++steps;
    }
    losses.push_back(sum / static_cast<double>(steps));
    if (on_epoch) on_epoch(epoch, losses.back());
  }
  return losses;
}

}  // namespace quantd::engine::methods
