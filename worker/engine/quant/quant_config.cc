#include "worker/engine/quant/quant_config.h"

#include <c10/util/StringUtil.h>

#include <array>
#include <string>
#include <utility>

#include "contract/contract_error.h"
#include "contract/scheme_request.h"
#include "worker/engine/quant/errors.h"
#include "worker/engine/quant/scheme.h"

namespace quantd::engine::quant {
namespace {

constexpr std::array<std::pair<Granularity, const char*>, 4> kGranularities{{
    {Granularity::kPerTensor, "per_tensor"},
    {Granularity::kPerChannel, "per_channel"},
    {Granularity::kPerToken, "per_token"},
    {Granularity::kPerGroup, "per_group"},
}};

constexpr std::array<std::pair<Grid, const char*>, 2> kGrids{{
    {Grid::kOsPlusNarrow, "os_plus_narrow"},
    {Grid::kOsFull, "os_full"},
}};

constexpr std::array<std::pair<ObserverKind, const char*>, 9> kObservers{{
    {ObserverKind::kMinMax, "minmax"},
    {ObserverKind::kRunningMinMax, "running_minmax"},
    {ObserverKind::kAvgMinMax, "avg_minmax"},
    {ObserverKind::kEmaMinMax, "ema_minmax"},
    {ObserverKind::kAvgQuantile, "avg_quantile"},
    {ObserverKind::kEmaQuantile, "ema_quantile"},
    {ObserverKind::kMse, "mse"},
    {ObserverKind::kAvgMse, "avg_mse"},
    {ObserverKind::kTokenPrunedMinMax, "token_pruned_minmax"},
}};

template <typename Enum, size_t N>
const char* NameOf(const std::array<std::pair<Enum, const char*>, N>& table,
                   Enum value) {
  for (const auto& [candidate, name] : table) {
    if (candidate == value) return name;
  }
  return "unknown";
}

template <typename Enum, size_t N>
Enum ParseName(const std::array<std::pair<Enum, const char*>, N>& table,
               std::string_view text, std::string_view field) {
  std::string known;
  for (const auto& [value, name] : table) {
    if (text == name) return value;
    known += known.empty() ? name : c10::str(", ", name);
  }
  throw ConfigError(std::string(field),
                    c10::str(field, ": unknown value '", text,
                             "' (expected one of: ", known, ")"));
}

void Fail(const char* field, const std::string& problem) {
  throw ConfigError(field, c10::str("QuantConfig.", field, ": ", problem));
}

void ValidateObserverOptions(const ObserverOptions& options) {
  if (!(options.quantile_threshold > 0.0 &&
        options.quantile_threshold <= 1.0)) {
    Fail("observer_options.quantile_threshold",
         c10::str(options.quantile_threshold, " is outside (0, 1]"));
  }
  if (options.histogram_bins < 1) {
    Fail("observer_options.histogram_bins",
         c10::str(options.histogram_bins, " must be >= 1"));
  }
  if (!(options.ema_decay >= 0.0 && options.ema_decay < 1.0)) {
    Fail("observer_options.ema_decay",
         c10::str(options.ema_decay, " is outside [0, 1)"));
  }
  if (options.mse_steps < 1) {
    Fail("observer_options.mse_steps",
         c10::str(options.mse_steps, " must be >= 1"));
  }
  if (!(options.token_quantile > 0.0 && options.token_quantile <= 1.0)) {
    Fail("observer_options.token_quantile",
         c10::str(options.token_quantile, " is outside (0, 1]"));
  }
}

}  // namespace

void ValidateQuantConfig(const QuantConfig& config) {
  if (!config.enabled) return;
  // The invariants are the contract's (contract/scheme_request.h), so a
  // config the engine builds obeys the rules a submitted spec does.
  try {
    contract::ValidateTensorScheme(ToContract(config), "QuantConfig");
  } catch (const contract::ContractError& error) {
    const std::string field =
        error.field().substr(std::string_view("QuantConfig.").size());
    throw ConfigError(field, error.field() + ": " + error.what());
  }
  ValidateObserverOptions(config.observer_options);
}

IntegerGrid GridOf(const QuantConfig& config) {
  const int64_t levels = int64_t{1} << config.bits;
  if (!config.symmetric || !config.include_zero) {
    // Asymmetric, and OmniQuant's symmetric mode, use [0, 2^b - 1].
    return {0, levels - 1};
  }
  const int64_t half = levels / 2;
  if (config.grid == Grid::kOsPlusNarrow) return {-(half - 1), half - 1};
  return {-half, half - 1};
}

const char* GranularityName(Granularity granularity) {
  return NameOf(kGranularities, granularity);
}
const char* GridName(Grid grid) { return NameOf(kGrids, grid); }
const char* ObserverKindName(ObserverKind kind) {
  return NameOf(kObservers, kind);
}

Granularity ParseGranularity(std::string_view text, std::string_view field) {
  return ParseName(kGranularities, text, field);
}
Grid ParseGrid(std::string_view text, std::string_view field) {
  return ParseName(kGrids, text, field);
}
ObserverKind ParseObserverKind(std::string_view text, std::string_view field) {
  return ParseName(kObservers, text, field);
}

std::string DescribeQuantConfig(const QuantConfig& config) {
  if (!config.enabled) return "disabled";
  std::string text =
      c10::str("int", config.bits, config.symmetric ? " sym" : " asym");
  if (config.symmetric && config.include_zero) {
    text += c10::str("(", GridName(config.grid), ")");
  }
  text += c10::str(" ", GranularityName(config.granularity));
  if (config.granularity == Granularity::kPerGroup) {
    text += c10::str("(", config.group_size, ")");
  }
  if (config.dynamic) {
    text += " dynamic";
  } else {
    text += c10::str(" static ", ObserverKindName(config.observer));
  }
  if (!config.include_zero) text += " no_zero_widening";
  return text;
}

}  // namespace quantd::engine::quant
