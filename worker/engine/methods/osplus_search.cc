#include "worker/engine/methods/osplus_search.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <string>

#include "worker/engine/methods/method_error.h"
#include "worker/engine/quant/fake_quant.h"
#include "worker/engine/quant/qparams.h"

namespace quantd::engine::methods {
namespace {

// Seed of the token subsample (a fixed draw: the search is deterministic).
constexpr uint64_t kSampleSeed = 0x05a1b5;

// Per-candidate (Δ, zp) of per-tensor ranges [lo_k, hi_k], [K] each.
quant::QParams CandidateQParams(const at::Tensor& lo, const at::Tensor& hi,
                                const quant::QuantConfig& config) {
  return quant::ComputeQParams(quant::MinMaxRange{lo, hi}, config);
}

// [K] -> [K, 1, ..., 1] with `dims` dimensions.
at::Tensor Broadcastable(const at::Tensor& per_candidate, int64_t dims) {
  std::vector<int64_t> shape(static_cast<size_t>(dims), 1);
  shape[0] = per_candidate.size(0);
  return per_candidate.reshape(shape);
}

at::Tensor FakeQuantizePerCandidate(const at::Tensor& x,
                                    const quant::QParams& qparams) {
  return quant::FakeQuantize(x, Broadcastable(qparams.scale, x.dim()),
                             Broadcastable(qparams.zero_point, x.dim()),
                             qparams.qmin, qparams.qmax);
}

// The first strict minimum of a curve, skipping NaN (unevaluated)
// entries; 0 when there is none.
size_t FirstMinimum(const std::vector<double>& losses) {
  size_t best_index = 0;
  double best = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < losses.size(); ++i) {
    if (losses[i] < best) {
      best = losses[i];
      best_index = i;
    }
  }
  return best_index;
}

const char* SiteFunctionKindName(SiteFunctionKind kind) {
  switch (kind) {
    case SiteFunctionKind::kLinear:
      return "linear";
    case SiteFunctionKind::kElementwise:
      return "elementwise";
    case SiteFunctionKind::kAttention:
      return "attention";
  }
  return "unknown";
}

// The quantizer as the reference re-implements it: grid, eps, how the
// range is formed and over which rows.
nlohmann::json QuantConfigJson(const quant::QuantConfig& config) {
  const quant::QParamsRule rule = quant::RuleOf(config);
  return {{"enabled", config.enabled},
          {"bits", config.bits},
          {"symmetric", config.symmetric},
          {"include_zero", config.include_zero},
          {"granularity", quant::GranularityName(config.granularity)},
          {"group_size", config.group_size},
          {"qmin", rule.qmin},
          {"qmax", rule.qmax},
          {"eps", static_cast<double>(rule.eps)}};
}

// A little-endian NumPy .npy file (format 1.0) of a float32 or int64
// tensor, C order.
void WriteNpy(const std::filesystem::path& path, const at::Tensor& tensor) {
  const bool integer = tensor.scalar_type() == at::kLong;
  at::Tensor data =
      tensor.to(at::kCPU, integer ? at::kLong : at::kFloat).contiguous();
  std::string shape;
  for (int64_t size : data.sizes()) shape += std::to_string(size) + ", ";
  std::string header = std::string("{'descr': '") + (integer ? "<i8" : "<f4") +
                       "', 'fortran_order': False, 'shape': (" + shape + "), }";
  // Magic (6) + version (2) + length (2) + header + '\n', a multiple of 64.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const uint16_t length = static_cast<uint16_t>(header.size());
  const char length_bytes[2] = {static_cast<char>(length & 0xff),
                                static_cast<char>(length >> 8)};
  out.write(length_bytes, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(static_cast<const char*>(data.data_ptr()),
            static_cast<std::streamsize>(data.nbytes()));
  if (!out) throw MethodError("OS+ search dump: cannot write " + path.string());
}

}  // namespace

SiteFunctionKind SiteFunctionKindOf(const model::InputSite& site) {
  if (site.point == model::HookPoint::kAttnIn) {
    return SiteFunctionKind::kAttention;
  }
  return site.consumers.size() > 1 ? SiteFunctionKind::kElementwise
                                   : SiteFunctionKind::kLinear;
}

std::vector<double> CandidateThresholds(double a_plus, double a_minus,
                                        double lower_bound,
                                        int64_t max_candidates) {
  const double t_max = std::max(-a_minus, a_plus);
  if (!(t_max >= lower_bound)) return {};
  double count = std::max(100.0, std::floor(a_plus / 0.5));
  if (max_candidates > 0) {
    count = std::min(count, static_cast<double>(max_candidates));
  }
  const double step = (t_max - lower_bound) / count;
  if (!(step > 0.0)) return {t_max};
  std::vector<double> thresholds;
  for (double t = t_max; t >= lower_bound; t -= step) thresholds.push_back(t);
  return thresholds;
}

at::Tensor OutlierScale(const at::Tensor& channel_min,
                        const at::Tensor& channel_max, double threshold) {
  at::Tensor upper = channel_max / threshold;
  at::Tensor lower = channel_min / (-threshold);
  return at::clamp_min(at::maximum(upper, lower), 1.0);
}

ThresholdSearch::ThresholdSearch(ThresholdSearchInput input)
    : input_(std::move(input)), kind_(SiteFunctionKindOf(*input_.site)) {
  const at::Tensor& x = input_.activation;
  if (x.dim() != 3 || input_.consumers.empty()) {
    throw MethodError(
        "OS+ search: activation must be [b, T, C] with "
        "consumers");
  }
  at::Tensor flat = x.reshape({-1, x.size(2)});
  channel_min_ = std::get<0>(flat.min(0));
  channel_max_ = std::get<0>(flat.max(0));
  const double a_plus = std::max(channel_max_.max().item<double>(), 0.0);
  const double a_minus = std::min(channel_min_.min().item<double>(), 0.0);
  t_max_ = std::max(-a_minus, a_plus);
  thresholds_ = CandidateThresholds(a_plus, a_minus, input_.lower_bound,
                                    input_.max_candidates);
  std::vector<at::Tensor> weights, biases;
  for (const model::Linear& layer : input_.consumers) {
    weights.push_back(layer.weight);
    out_sizes_.push_back(layer.out_features());
    if (layer.bias.defined()) biases.push_back(layer.bias);
  }
  weight_cat_ = at::cat(weights, 0);
  if (biases.size() == input_.consumers.size()) bias_cat_ = at::cat(biases);
  PrepareSample();
}

void ThresholdSearch::PrepareSample() {
  const at::Tensor& x = input_.activation;
  at::Tensor flat = x.reshape({-1, x.size(2)});
  const std::string& site = input_.site->name;
  if (kind_ == SiteFunctionKind::kAttention) {
    // Whole sequences: attention mixes the tokens of a sequence.
    const int64_t seq = x.size(1);
    const int64_t sequences =
        input_.search_tokens <= 0
            ? x.size(0)
            : std::clamp<int64_t>((input_.search_tokens + seq - 1) / seq, 1,
                                  x.size(0));
    sample_ = x.narrow(0, 0, sequences).contiguous();
    sample_index_ = at::arange(sequences * seq, at::kLong);
    reference_ = input_.block->SiteForward(site, sample_, input_.consumers,
                                           input_.contexts->For(sequences));
  } else {
    // Evenly spaced tokens.
    const int64_t tokens = flat.size(0);
    const int64_t n =
        input_.search_tokens <= 0
            ? tokens
            : std::clamp<int64_t>(input_.search_tokens, 1, tokens);
    at::Tensor index = at::arange(tokens, at::kLong);
    if (n < tokens) {
      // A seeded uniform draw without replacement, kept in token order. An
      // evenly spaced subsample aliases with the window length: whenever
      // its stride divides the window, every window's first token (where
      // LLaMA-family models put their massive activations) is taken, and
      // those tokens weigh stride times too much in the loss.
      at::Generator generator = at::detail::createCPUGenerator(kSampleSeed);
      index = std::get<0>(
          at::randperm(tokens, generator, at::kLong).narrow(0, 0, n).sort());
    }
    sample_index_ = index;
    sample_ =
        n == tokens ? flat : flat.index_select(0, index.to(flat.device()));
    if (kind_ == SiteFunctionKind::kLinear) {
      reference_ = at::matmul(sample_, weight_cat_.t());
    } else {
      reference_ =
          input_.block->SiteForward(site, sample_.unsqueeze(0),
                                    input_.consumers, input_.contexts->For(1));
    }
  }
  reference_ = reference_.reshape({-1, reference_.size(-1)});
}

at::Tensor ThresholdSearch::QuantizeActivations(
    const at::Tensor& x, std::span<const double> thresholds) const {
  const quant::QuantConfig& config = input_.activation_quant;
  if (!config.enabled) return x;
  if (config.granularity != quant::Granularity::kPerTensor) {
    return quant::FakeQuantizeDynamic(x, config);
  }
  // Per-tensor: the clip range is exactly (−t, t).
  at::Tensor t =
      at::tensor(std::vector<double>(thresholds.begin(), thresholds.end()))
          .to(at::kFloat);
  return FakeQuantizePerCandidate(x, CandidateQParams(-t, t, config));
}

at::Tensor ThresholdSearch::QuantizeWeights(const at::Tensor& weights) const {
  const quant::QuantConfig& config = input_.weight;
  if (!config.enabled) return weights;
  const int64_t count = weights.size(0);
  if (config.granularity == quant::Granularity::kPerTensor) {
    at::Tensor flat = weights.reshape({count, -1});
    at::Tensor lo = std::get<0>(flat.min(1)).to(at::kFloat);
    at::Tensor hi = std::get<0>(flat.max(1)).to(at::kFloat);
    return FakeQuantizePerCandidate(weights, CandidateQParams(lo, hi, config));
  }
  // Per output row (or group): rows of different candidates never mix.
  at::Tensor rows = weights.reshape({-1, weights.size(-1)});
  return quant::FakeQuantizeDynamic(rows, config).reshape(weights.sizes());
}

at::Tensor ThresholdSearch::StackedForward(const at::Tensor& x,
                                           const at::Tensor& weights) const {
  const int64_t count = x.size(0);
  if (kind_ == SiteFunctionKind::kLinear) {
    return at::matmul(x, weights.transpose(1, 2));
  }
  // The consumers with their K candidates stacked ([K, O_i, C] weights):
  // the site function runs on all candidates at once, candidate-major.
  std::vector<model::Linear> stacked = input_.consumers;
  std::vector<at::Tensor> parts = weights.split_with_sizes(out_sizes_, 1);
  for (size_t i = 0; i < stacked.size(); ++i) stacked[i].weight = parts[i];
  const std::string& site = input_.site->name;
  if (kind_ == SiteFunctionKind::kAttention) {
    const int64_t sequences = x.size(1), seq = x.size(2);
    at::Tensor out = input_.block->SiteForward(
        site, x.reshape({count * sequences, seq, -1}), stacked,
        input_.contexts->For(count * sequences));
    return out.reshape({count, sequences * seq, -1});
  }
  at::Tensor out = input_.block->SiteForward(
      site, x.reshape({1, -1, x.size(-1)}), stacked, input_.contexts->For(1));
  return out.reshape({count, x.size(1), -1});
}

at::Tensor ThresholdSearch::LossOf(const at::Tensor& output) const {
  return (output.to(at::kFloat) - reference_).pow(2).sum(-1).mean(-1);
}

std::vector<double> ThresholdSearch::Losses(std::span<const double> thresholds,
                                            int64_t per_batch) const {
  std::vector<double> losses;
  const size_t step = static_cast<size_t>(std::max<int64_t>(per_batch, 1));
  for (size_t begin = 0; begin < thresholds.size(); begin += step) {
    std::span<const double> chunk =
        thresholds.subspan(begin, std::min(step, thresholds.size() - begin));
    std::vector<at::Tensor> scales;
    for (double t : chunk) {
      scales.push_back(OutlierScale(channel_min_, channel_max_, t));
    }
    at::Tensor s = at::stack(scales);  // [K, C]
    at::Tensor expanded = s;
    for (int64_t d = 1; d < sample_.dim(); ++d)
      expanded = expanded.unsqueeze(1);
    at::Tensor x = QuantizeActivations(sample_.unsqueeze(0) / expanded, chunk);
    at::Tensor w = QuantizeWeights(weight_cat_.unsqueeze(0) * s.unsqueeze(1));
    at::Tensor loss = LossOf(StackedForward(x, w)).to(at::kCPU, at::kDouble);
    for (int64_t k = 0; k < loss.size(0); ++k) {
      losses.push_back(loss[k].item<double>());
    }
  }
  return losses;
}

double ThresholdSearch::DirectLoss(double threshold) const {
  at::Tensor s = OutlierScale(channel_min_, channel_max_, threshold);
  at::Tensor x = sample_ / s;
  const quant::QuantConfig& act = input_.activation_quant;
  if (act.enabled && act.granularity == quant::Granularity::kPerTensor) {
    at::Tensor t = at::scalar_tensor(threshold, at::kFloat);
    quant::QParams qparams = quant::ComputeQParams({-t, t}, act);
    x = quant::FakeQuantize(x, qparams, act.granularity, 0);
  } else {
    x = quant::FakeQuantizeDynamic(x, act);
  }
  at::Tensor w =
      QuantizeWeights((weight_cat_ * s.unsqueeze(0)).unsqueeze(0)).squeeze(0);
  std::vector<model::Linear> layers = input_.consumers;
  std::vector<at::Tensor> parts = w.split_with_sizes(out_sizes_, 0);
  for (size_t i = 0; i < layers.size(); ++i) layers[i].weight = parts[i];
  at::Tensor out;
  if (kind_ == SiteFunctionKind::kLinear) {
    out = at::matmul(x, w.t());
  } else if (kind_ == SiteFunctionKind::kAttention) {
    out = input_.block->SiteForward(input_.site->name, x, layers,
                                    input_.contexts->For(x.size(0)));
  } else {
    out = input_.block->SiteForward(input_.site->name, x.unsqueeze(0), layers,
                                    input_.contexts->For(1));
  }
  return LossOf(out.reshape({1, -1, out.size(-1)}))[0].item<double>();
}

ThresholdChoice ThresholdSearch::Run() const {
  ThresholdChoice choice;
  if (thresholds_.empty()) {
    // The whole activation lies within the lower bound: nothing to scale.
    const double t[] = {t_max_};
    choice.threshold = t_max_;
    choice.scale = at::ones_like(channel_max_);
    choice.loss_before = choice.loss_after = Losses(t, 1).front();
    choice.losses = {choice.loss_before};
    return choice;
  }
  std::vector<double> losses =
      input_.coarse_to_fine > 1
          ? CoarseToFineLosses()
          : Losses(thresholds_, input_.candidates_per_batch);
  const size_t best_index = FirstMinimum(losses);
  choice.threshold = thresholds_[best_index];
  choice.scale = OutlierScale(channel_min_, channel_max_, choice.threshold);
  choice.loss_before = losses.front();
  choice.loss_after = losses[best_index];
  choice.candidates = static_cast<int64_t>(
      std::count_if(losses.begin(), losses.end(),
                    [](double loss) { return !std::isnan(loss); }));
  choice.losses = std::move(losses);
  return choice;
}

std::vector<double> ThresholdSearch::CoarseToFineLosses() const {
  const size_t count = thresholds_.size();
  const size_t factor = static_cast<size_t>(input_.coarse_to_fine);
  std::vector<double> losses(count, std::nan(""));  // NaN: not evaluated.
  // Evaluates the positions not evaluated yet, in one run of batches.
  auto evaluate = [&](const std::vector<size_t>& positions) {
    std::vector<size_t> pending;
    std::vector<double> thresholds;
    for (size_t i : positions) {
      if (i < count && std::isnan(losses[i]) &&
          std::find(pending.begin(), pending.end(), i) == pending.end()) {
        pending.push_back(i);
        thresholds.push_back(thresholds_[i]);
      }
    }
    std::vector<double> values =
        Losses(thresholds, input_.candidates_per_batch);
    for (size_t j = 0; j < pending.size(); ++j) losses[pending[j]] = values[j];
  };
  size_t stride = 1;
  while (stride * factor * factor <= count) stride *= factor;
  std::vector<size_t> positions;
  for (size_t i = 0; i < count; i += stride) positions.push_back(i);
  positions.push_back(count - 1);  // The lower bound's end of the grid.
  evaluate(positions);
  while (stride > 1) {
    const size_t best = FirstMinimum(losses);
    const size_t finer = stride / factor;
    positions.clear();
    const size_t begin = best >= stride ? best - stride : best % finer;
    for (size_t i = begin; i <= best + stride; i += finer) {
      positions.push_back(i);
    }
    evaluate(positions);
    stride = finer;
  }
  return losses;
}

void ThresholdSearch::Dump(const ThresholdChoice& choice,
                           const std::filesystem::path& dir,
                           const nlohmann::json& extra) const {
  std::filesystem::create_directories(dir);
  std::vector<std::string> consumer_names = input_.site->consumers;
  nlohmann::json meta = {
      {"site", input_.site->name},
      {"kind", SiteFunctionKindName(kind_)},
      {"consumers", consumer_names},
      {"out_sizes", out_sizes_},
      {"has_bias", bias_cat_.defined()},
      {"lower_bound", input_.lower_bound},
      {"search_tokens", input_.search_tokens},
      {"max_candidates", input_.max_candidates},
      {"coarse_to_fine", input_.coarse_to_fine},
      {"sample_tokens", sample_index_.size(0)},
      {"weight_quant", QuantConfigJson(input_.weight)},
      {"activation_quant", QuantConfigJson(input_.activation_quant)},
      {"t_max", t_max_},
      {"thresholds", thresholds_},
      {"losses", choice.losses},
      {"threshold", choice.threshold},
      {"loss_before", choice.loss_before},
      {"loss_after", choice.loss_after},
      {"scale_max", choice.scale.max().item<double>()},
      {"extra", extra},
  };
  std::ofstream(dir / "meta.json") << meta.dump(1) << "\n";
  WriteNpy(dir / "x.npy", input_.activation);
  WriteNpy(dir / "sample_index.npy", sample_index_);
  WriteNpy(dir / "weight.npy", weight_cat_);
  if (bias_cat_.defined()) WriteNpy(dir / "bias.npy", bias_cat_);
  WriteNpy(dir / "scale.npy", choice.scale);
}

}  // namespace quantd::engine::methods
