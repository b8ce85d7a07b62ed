// QuantConfig: the complete description of one uniform quantizer (bit
// width, grid, granularity, static or dynamic, observer), its validation,
// and the names used for it in job specs and reports. See
// docs/ALGORITHMS.md §1 for the conventions and docs/QUANTIZERS.md for how
// they map onto the published configurations.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace quantd::engine::quant {

// The axis over which one (scale, zero point) pair is shared. Every
// granularity views the tensor as rows of a 2-D matrix (see granularity.h).
enum class Granularity {
  kPerTensor,   // One pair for the whole tensor.
  kPerChannel,  // One pair per output row of a weight (dim 0).
  kPerToken,    // One pair per token: view as [-1, C], C = last dim.
  kPerGroup,    // One pair per `group_size` contiguous values of the last dim.
};

// The integer grid of a symmetric quantizer; asymmetric grids are always
// [0, 2^b - 1]. The grid also picks the lower bound (eps) on the scale,
// for asymmetric quantizers too, as each codebase does.
enum class Grid {
  kOsPlusNarrow,  // OS+: [-(2^(b-1) - 1), 2^(b-1) - 1]; eps = float32 eps.
  kOsFull,        // OS: [-2^(b-1), 2^(b-1) - 1]; eps = 1e-8.
};

// How a static quantizer accumulates (min, max) over calibration batches
// (docs/ALGORITHMS.md §1.2). Dynamic quantizers use kMinMax of each input.
enum class ObserverKind {
  kMinMax,             // OS+: the latest batch's range overwrites the previous.
  kRunningMinMax,      // OS: running global min and max.
  kAvgMinMax,          // Mean of per-batch min and max (per-tensor only).
  kEmaMinMax,          // old * ema_decay + batch * (1 - ema_decay).
  kAvgQuantile,        // |x| histogram clip, averaged (per-tensor only).
  kEmaQuantile,        // |x| histogram clip, EMA'd (per-tensor only).
  kMse,                // Per-batch MSE grid search, running min/max of choices.
  kAvgMse,             // Per-batch MSE grid search, averaged choices.
  kTokenPrunedMinMax,  // OS coarse token-wise clipping, averaged (§3.2).
};

// Tuning of the observers; each field is used only by the kinds named.
struct ObserverOptions {
  // k{Avg,Ema}Quantile: fraction of |x| kept below the clip. (0, 1].
  // Default 0.999 = OS+'s Avg default (its EMA default is 0.9999).
  double quantile_threshold = 0.999;
  // k{Avg,Ema}Quantile: histogram bins over [0, max|x|]. >= 1.
  int64_t histogram_bins = 2048;
  // kEma*: weight kept by the previous value. [0, 1).
  double ema_decay = 0.9;
  // kMse, kAvgMse: number of candidate ranges per search. >= 1.
  int64_t mse_steps = 100;
  // kTokenPrunedMinMax: quantile alpha over token-wise extrema. (0, 1];
  // 1.0 keeps every token (plain AvgMinMax).
  double token_quantile = 1.0;
};

struct QuantConfig {
  // False means "not quantized" (A16 activations): Apply is the identity.
  bool enabled = true;
  // Bit width, [2, 8].
  int bits = 8;
  // Symmetric (zero point 0 on a signed grid) or asymmetric ([0, 2^b-1]).
  bool symmetric = false;
  // Symmetric grid and eps convention (see Grid).
  Grid grid = Grid::kOsPlusNarrow;
  Granularity granularity = Granularity::kPerTensor;
  // Values per group for kPerGroup (> 0, must divide the last dim); 0
  // otherwise.
  int64_t group_size = 0;
  // Dynamic: (scale, zero point) recomputed from each input's min/max.
  // Static: taken from the observer after calibration.
  bool dynamic = false;
  ObserverKind observer = ObserverKind::kMinMax;
  // True (OS/OS+): the range is widened to include 0. False (OmniQuant
  // UniformAffineQuantizer): raw min/max, scale clamped to [1e-5, 1e4].
  bool include_zero = true;
  ObserverOptions observer_options;
};

// Throws ConfigError naming the first invalid field. A disabled config is
// always valid. Rules: bits in [2, 8]; group_size > 0 exactly for
// kPerGroup; kPerToken needs dynamic (the token count changes per batch);
// dynamic quantizers use kMinMax; per-tensor-only observers need
// kPerTensor; observer options within their ranges.
void ValidateQuantConfig(const QuantConfig& config);

// The integer grid [qmin, qmax] of a config (docs/ALGORITHMS.md §1.1, §1.4).
struct IntegerGrid {
  int64_t qmin = 0;
  int64_t qmax = 0;
};
IntegerGrid GridOf(const QuantConfig& config);

// Stable lower-case names used in job specs and reports, e.g. "per_token",
// "os_plus_narrow", "avg_minmax". Parse* throw ConfigError naming `field`.
const char* GranularityName(Granularity granularity);
const char* GridName(Grid grid);
const char* ObserverKindName(ObserverKind kind);
Granularity ParseGranularity(std::string_view text, std::string_view field);
Grid ParseGrid(std::string_view text, std::string_view field);
ObserverKind ParseObserverKind(std::string_view text, std::string_view field);

// One-line summary for logs and reports, e.g.
// "int4 asym per_group(128) dynamic" or "disabled".
std::string DescribeQuantConfig(const QuantConfig& config);

}  // namespace quantd::engine::quant
