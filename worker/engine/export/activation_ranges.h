// Per-channel activation ranges at the input sites of a block, before and
// after a method's equivalent transformation, and what the report makes of
// them: a summary per site (largest |x|, and the outlier ratio, i.e. the
// largest channel's max|x| over the median channel's) and, for the sites
// with the strongest outliers before the method, an SVG plot of every
// channel's [min, max] before (grey band) and after (blue band).
//
// Plain values and functions; thread-safe.
#pragma once

#include <ATen/ATen.h>

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace quantd::engine::exporting {

struct ChannelRange {
  std::string name;  // Site, e.g. "model.layers.3.attn_in".
  // [C] float: per-channel min and max over the calibration tokens of the
  // activation as the FP model produces it (before the method).
  at::Tensor before_min, before_max;
  // [C]: the same after the transformation (what the quantizer sees);
  // undefined when the method does not transform this site.
  at::Tensor after_min, after_max;
};

// Per-channel (last dim) min and max of x [..., C], as float32 CPU [C]
// tensors; merge more batches with MergeRanges.
std::pair<at::Tensor, at::Tensor> PerChannelMinMax(const at::Tensor& x);
// Element-wise min of mins and max of maxes.
std::pair<at::Tensor, at::Tensor> MergeRanges(
    const std::pair<at::Tensor, at::Tensor>& a,
    const std::pair<at::Tensor, at::Tensor>& b);

// max_c max(|min_c|, |max_c|) / median_c max(|min_c|, |max_c|); 1 when the
// median is 0 and the max too, +inf when only the median is 0.
double OutlierRatio(const at::Tensor& min, const at::Tensor& max);

// {name, channels, before_absmax, before_outlier_ratio, and after_* when
// defined}. Throws ExportError when the tensors are not [C] of one size.
nlohmann::json SummarizeRange(const ChannelRange& range);

// Indices of the `count` ranges with the largest before_outlier_ratio
// (ties: by name), largest first.
std::vector<size_t> WorstRanges(const std::vector<ChannelRange>& ranges,
                                size_t count);

// The SVG plot of one range (see svg_plot.h).
std::string RenderRangePlot(const ChannelRange& range);

// A file name for a site's plot: "<name>.svg" with every character other
// than [A-Za-z0-9._-] replaced by '_'.
std::string PlotFileName(const std::string& name);

}  // namespace quantd::engine::exporting
