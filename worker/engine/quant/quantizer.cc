#include "worker/engine/quant/quantizer.h"

#include <c10/util/StringUtil.h>

#include "worker/engine/quant/errors.h"
#include "worker/engine/quant/fake_quant.h"

namespace quantd::engine::quant {

Quantizer::Quantizer(const QuantConfig& config) : config_(config) {
  ValidateQuantConfig(config_);
  if (is_static()) observer_ = MakeObserver(config_);
}

void Quantizer::RequireStatic(const char* function) const {
  if (!is_static()) {
    throw QuantError(c10::str("Quantizer::", function,
                              ": only a static quantizer has parameters; "
                              "this one is ",
                              DescribeQuantConfig(config_)));
  }
}

void Quantizer::RecomputeFromObserver() {
  qparams_ = ComputeQParams(observer_->Range(), config_);
}

void Quantizer::Observe(const at::Tensor& x) {
  if (!is_static()) return;
  if (frozen_) {
    throw QuantError("Quantizer::Observe: the quantizer is frozen");
  }
  observer_->Observe(x);
  RecomputeFromObserver();
}

void Quantizer::ObserveTokens(const at::Tensor& x,
                              const at::Tensor& token_mask) {
  if (!is_static()) return;
  if (frozen_) {
    throw QuantError("Quantizer::ObserveTokens: the quantizer is frozen");
  }
  observer_->ObserveTokens(x, token_mask);
  if (observer_->HasRange()) RecomputeFromObserver();
}

void Quantizer::Freeze() {
  if (!is_static()) return;
  if (!qparams_) {
    throw QuantError(
        "Quantizer::Freeze: nothing was observed and no range was set");
  }
  frozen_ = true;
}

void Quantizer::SetRange(const MinMaxRange& range) {
  RequireStatic("SetRange");
  qparams_ = ComputeQParams(range, config_);
  frozen_ = true;
}

void Quantizer::SetQParams(const QParams& qparams) {
  RequireStatic("SetQParams");
  if (!qparams.scale.defined() || !qparams.zero_point.defined() ||
      !qparams.scale.sizes().equals(qparams.zero_point.sizes()) ||
      qparams.qmin > qparams.qmax) {
    throw QuantError(
        "Quantizer::SetQParams: scale and zero_point must be defined, of one "
        "shape, with qmin <= qmax");
  }
  qparams_ =
      QParams{qparams.scale.to(at::kFloat), qparams.zero_point.to(at::kFloat),
              qparams.qmin, qparams.qmax};
  frozen_ = true;
}

void Quantizer::Reset() {
  if (observer_) observer_->Reset();
  qparams_.reset();
  frozen_ = false;
}

const QParams& Quantizer::qparams() const {
  RequireStatic("qparams");
  if (!qparams_) {
    throw QuantError(
        "Quantizer::qparams: not calibrated yet (observe a batch or set a "
        "range first)");
  }
  return *qparams_;
}

MinMaxRange Quantizer::ObservedRange() const {
  RequireStatic("ObservedRange");
  return observer_->Range();
}

at::Tensor Quantizer::Apply(const at::Tensor& x) const {
  if (!config_.enabled) return x;
  if (config_.dynamic) return FakeQuantizeDynamic(x, config_);
  return FakeQuantize(x, qparams(), config_.granularity, config_.group_size);
}

at::Tensor Quantizer::ObserveAndApply(const at::Tensor& x) {
  Observe(x);
  return Apply(x);
}

IntegerCodes Quantizer::Encode(const at::Tensor& x) const {
  if (!config_.enabled) {
    throw QuantError("Quantizer::Encode: the quantizer is disabled");
  }
  const QParams params =
      config_.dynamic ? DynamicQParams(x, config_) : qparams();
  return QuantizeToInt(x, params, config_.granularity, config_.group_size);
}

}  // namespace quantd::engine::quant
