#include "contract/method_catalogue.h"

#include <cmath>
#include <sstream>

#include "contract/contract_error.h"

namespace quantd::contract {
namespace {

ParamSpec Integer(std::string key, double min, double max,
                  std::optional<int64_t> default_value, std::string help) {
  ParamSpec spec{std::move(key), ParamType::kInteger, min, max,
                 std::nullopt,   std::move(help)};
  if (default_value) spec.default_value = *default_value;
  return spec;
}

ParamSpec Number(std::string key, double min, double max,
                 std::optional<double> default_value, std::string help) {
  ParamSpec spec{std::move(key), ParamType::kNumber, min, max,
                 std::nullopt,   std::move(help)};
  if (default_value) spec.default_value = *default_value;
  return spec;
}

ParamSpec Bool(std::string key, std::optional<bool> default_value,
               std::string help) {
  ParamSpec spec{std::move(key), ParamType::kBool, 0, 0,
                 std::nullopt,   std::move(help)};
  if (default_value) spec.default_value = *default_value;
  return spec;
}

// Parameters every method takes.
std::vector<ParamSpec> Common() {
  return {Integer("batch_size", 1, 4096, 8,
                  "calibration samples per forward; batch 0 gives the "
                  "statistics")};
}

std::vector<ParamSpec> With(std::vector<ParamSpec> more) {
  std::vector<ParamSpec> all = Common();
  all.insert(all.end(), more.begin(), more.end());
  return all;
}

bool BoolOf(const ParamValues& values, std::string_view key) {
  auto found = values.find(key);
  return found != values.end() && std::get<bool>(found->second);
}

void CheckOsPlus(const ParamValues& values, const SchemeFacts& scheme) {
  if (BoolOf(values, "up_down") &&
      scheme.weights.granularity == Granularity::kPerTensor) {
    throw ContractError("method_params.up_down",
                        "needs per-channel or per-group weights (the scale is "
                        "folded into up_proj's per-row steps), the scheme has "
                        "per-tensor weights");
  }
}

void CheckOmniQuant(const ParamValues& values, const SchemeFacts& scheme) {
  if (!BoolOf(values, "bmm")) return;
  if (!scheme.activations.enabled) {
    throw ContractError("method_params.bmm",
                        "needs quantized activations; scheme '" + scheme.name +
                            "' is weight-only");
  }
  if (scheme.activations.granularity == Granularity::kPerGroup) {
    throw ContractError("method_params.bmm",
                        "Q, K and V are quantized per (head, token); scheme '" +
                            scheme.name +
                            "' has per-group activations (use a per-token "
                            "scheme)");
  }
}

void CheckGptq(const ParamValues& values, const SchemeFacts& scheme) {
  if (scheme.weights.observer != "minmax" &&
      scheme.weights.observer != "running_minmax") {
    throw ContractError("scheme.weights.observer",
                        "gptq takes each group's range from its min/max; "
                        "observer '" +
                            scheme.weights.observer + "' is not supported");
  }
  auto static_groups = values.find("static_groups");
  if (BoolOf(values, "act_order") &&
      scheme.weights.granularity == Granularity::kPerGroup &&
      static_groups != values.end() && !std::get<bool>(static_groups->second)) {
    throw ContractError("method_params.static_groups",
                        "act_order with per-group weights needs static "
                        "groups (they stay contiguous in the original column "
                        "order, as the exports store them); set act_order "
                        "false for ranges taken as the sweep reaches them");
  }
}

void CheckAwq(const ParamValues&, const SchemeFacts& scheme) {
  if (scheme.activations.enabled) {
    throw ContractError("scheme.activations",
                        "awq is weight-only (it scales weights by activation "
                        "statistics and leaves activations in floating "
                        "point); scheme '" +
                            scheme.name +
                            "' quantizes activations, use a w<bits>a16 "
                            "scheme");
  }
}

std::vector<MethodEntry> BuildCatalogue() {
  return {
      {"rtn", "round-to-nearest with MinMax ranges (baseline)", Common(),
       nullptr, StageRole::kRounding},
      {"smoothquant",
       "SmoothQuant: migrate activation outliers into the weights",
       With({Number("alpha", 0.0, 1.0, 0.5,
                    "migration strength (0.5 OPT, 0.8 LLaMA)"),
             Bool("alpha_search", false,
                  "choose alpha per block by the block output MSE"),
             Number("alpha_step", 0.01, 0.5, 0.05,
                    "spacing of the alpha grid for alpha_search")})},
      {"os", "Outlier Suppression: gamma migration and token-wise clipping",
       With({Bool("token_clipping", true,
                  "search the token-wise clipping quantile per block")})},
      {"osplus",
       "Outlier Suppression+: channel-wise shifting and scaling with a "
       "searched outlier threshold",
       With({Integer("search_tokens", 0, 1e7, 4096,
                     "tokens of the statistics batch the loss averages (0: "
                     "all of them, as the reference code does)"),
             Integer("search_batch", 1, 1024, 8,
                     "threshold candidates evaluated together"),
             Integer("max_candidates", 0, 1e7, 200,
                     "cap on the threshold grid's size (0: none, as the "
                     "reference code; down_proj sites with massive "
                     "activations have thousands of candidates)"),
             Integer("coarse_to_fine", 0, 64, 0,
                     "threshold search by refinement with this factor: "
                     "every factor^k-th candidate of the grid, then the "
                     "best one's neighbourhood at each finer stride (0 or "
                     "1: every candidate, as the reference code)"),
             Bool("up_down", std::nullopt,
                  "also scale the LLaMA up_proj -> down_proj pair (default: "
                  "on where the weights are per-channel or per-group)"),
             Bool("shift", true,
                  "channel-wise shifting where a bias absorbs it"),
             Bool("token_clipping", false,
                  "combine with OS's token-wise clipping (the paper's BERT "
                  "setting; per-tensor activations)"),
             Number("lower_bound", 1e-6, 1e6, std::nullopt,
                    "smallest threshold (default 1.0 shifted, 0.1 not)")}),
       CheckOsPlus},
      {"omniquant",
       "OmniQuant: learnable weight clipping and learnable equivalent "
       "transformation, trained block by block",
       With({Integer("epochs", 0, 1000, 20,
                     "training epochs per block (0: initialisation only)"),
             Number("lwc_lr", 0.0, 1.0, 1e-2,
                    "AdamW learning rate of the clipping logits"),
             Number("let_lr", 0.0, 1.0, 5e-3,
                    "AdamW learning rate of the LET scales and shifts"),
             Integer("samples", 0, 1e7, 0,
                     "calibration samples to train on (0: all)"),
             Integer("train_batch", 1, 4096, 1, "samples per optimizer step"),
             Bool("lwc", true,
                  "learnable weight clipping (false: MinMax ranges)"),
             Bool("let", std::nullopt,
                  "learnable equivalent transformation (default: on when "
                  "activations are quantized)"),
             Bool("shift", true,
                  "LET shifts where biases absorb them (weight-activation "
                  "schemes only)"),
             Number("alpha", 0.0, 1.0, 0.5,
                    "SmoothQuant strength of the initial LET scales"),
             Number("lwc_init", -20.0, 20.0, 4.0,
                    "initial clipping logit (sigmoid(4) = 0.982)"),
             Bool("aug_loss", false,
                  "add the MSE to the FP block on the quantized stream"),
             Bool("mixed_precision", std::nullopt,
                  "bfloat16 autocast for the training forwards (default: "
                  "on for CUDA, off for CPU)"),
             Bool("bmm", false,
                  "also quantize Q, K and V per (head, token), as the "
                  "reference's W4A4/W6A6 runs do")}),
       CheckOmniQuant, StageRole::kStandalone},
      {"gptq",
       "GPTQ: second-order weight rounding with error feedback, Linear by "
       "Linear (weights only; activations as RTN)",
       With({Number("dampening_percent", 0.0, 100.0, 0.01,
                    "diagonal dampening as a fraction of mean(diag H); "
                    "raised tenfold while H is not positive definite"),
             Integer("block_size", 1, 1e6, 128,
                     "columns per lazy batch update (speed only; the "
                     "result does not depend on it)"),
             Bool("act_order", true,
                  "quantize columns by decreasing diag(H) (desc_act; "
                  "llm-compressor's default too)"),
             Bool("static_groups", std::nullopt,
                  "per-group (delta, zp) from the weight before the sweep "
                  "(default: on with act_order, which needs it, off "
                  "otherwise)"),
             Bool("true_sequential", true,
                  "each Linear's Hessian from the block with its earlier "
                  "Linears already quantized (the reference's "
                  "--true-sequential); off: from the block with its "
                  "weights unquantized, as llm-compressor collects them")}),
       CheckGptq, StageRole::kRounding},
      {"awq",
       "AWQ: activation-aware per-channel weight scaling with a searched "
       "exponent, then weight clipping (weights only)",
       With({Integer("grid", 1, 1000, 20,
                     "scale exponents alpha = i/grid, i = 0..grid-1 (alpha "
                     "0 is plain RTN)"),
             Bool("clip", true,
                  "search a clipping range per output group after scaling"),
             Integer("clip_grid", 1, 1000, 20,
                     "clipping ratios 1 - i/clip_grid of each group's "
                     "max|w|"),
             Number("max_shrink", 0.0, 1.0, 0.5,
                    "ratios stop above 1 - max_shrink (0: no clipping)"),
             Integer("search_tokens", 0, 1e7, 4096,
                     "calibration tokens (whole sequences) the scale and "
                     "clipping losses average (0: all of them)")}),
       CheckAwq},
  };
}

std::string KnownKeys(const MethodEntry& entry) {
  std::string known;
  for (const ParamSpec& spec : entry.params) {
    known += known.empty() ? spec.key : ", " + spec.key;
  }
  return known.empty() ? "none" : known;
}

// "%g" without the locale: 1e+07, 0.5, 4096.
std::string Format(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

ParamValue CheckValue(const ParamSpec& spec, const RawParam& value,
                      const std::string& field) {
  if (spec.type == ParamType::kBool) {
    if (value.kind != RawParam::Kind::kBool) {
      throw ContractError(field, "must be true or false, got " + value.text);
    }
    return value.boolean;
  }
  if (value.kind != RawParam::Kind::kNumber) {
    throw ContractError(field, "must be a number, got " + value.text);
  }
  const double number = value.number;
  if (!std::isfinite(number)) {
    throw ContractError(field, "must be finite, got " + value.text);
  }
  if (spec.type == ParamType::kInteger && number != std::floor(number)) {
    throw ContractError(field, "must be an integer, got " + value.text);
  }
  if (number < spec.min_value || number > spec.max_value) {
    throw ContractError(field, "must be in [" + Format(spec.min_value) + ", " +
                                   Format(spec.max_value) + "], got " +
                                   value.text);
  }
  if (spec.type == ParamType::kInteger) return static_cast<int64_t>(number);
  return number;
}

}  // namespace

std::span<const MethodEntry> MethodCatalogue() {
  static const std::vector<MethodEntry> kCatalogue = BuildCatalogue();
  return kCatalogue;
}

const MethodEntry* FindMethodEntry(std::string_view name) {
  for (const MethodEntry& entry : MethodCatalogue()) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

std::string MethodNames() {
  std::string names;
  for (const MethodEntry& entry : MethodCatalogue()) {
    names += names.empty() ? entry.name : ", " + entry.name;
  }
  return names;
}

bool IsCommonParam(std::string_view key) {
  for (const ParamSpec& spec : Common()) {
    if (spec.key == key) return true;
  }
  return false;
}

ParamValues CheckMethodParams(
    std::string_view method,
    const std::vector<std::pair<std::string, RawParam>>& params,
    const SchemeFacts& scheme, bool params_is_object) {
  const MethodEntry* entry = FindMethodEntry(method);
  if (entry == nullptr) {
    throw ContractError("method", "unknown method '" + std::string(method) +
                                      "' (expected one of: " + MethodNames() +
                                      ")");
  }
  if (!params_is_object) {
    throw ContractError("method_params", "must be an object");
  }
  return CheckEntryParams(*entry, params, scheme, "method_params");
}

ParamValues CheckEntryParams(
    const MethodEntry& entry,
    const std::vector<std::pair<std::string, RawParam>>& params,
    const SchemeFacts& scheme, const std::string& field) {
  ParamValues values;
  for (const auto& [key, value] : params) {
    const ParamSpec* spec = nullptr;
    for (const ParamSpec& candidate : entry.params) {
      if (candidate.key == key) spec = &candidate;
    }
    if (spec == nullptr) {
      throw ContractError(field + "." + key,
                          "unknown parameter (" + entry.name +
                              " takes: " + KnownKeys(entry) + ")");
    }
    values[key] = CheckValue(*spec, value, field + "." + key);
  }
  for (const ParamSpec& spec : entry.params) {
    if (!values.contains(spec.key) && spec.default_value) {
      values[spec.key] = *spec.default_value;
    }
  }
  if (entry.check != nullptr) entry.check(values, scheme);
  return values;
}

}  // namespace quantd::contract
