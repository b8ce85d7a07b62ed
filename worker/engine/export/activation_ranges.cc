#include "worker/engine/export/activation_ranges.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include "worker/engine/export/export_error.h"
#include "worker/engine/export/svg_plot.h"

namespace quantd::engine::exporting {
namespace {

std::vector<double> Values(const at::Tensor& tensor) {
  at::Tensor cpu = tensor.detach().to(at::kCPU, at::kDouble).contiguous();
  const double* data = cpu.data_ptr<double>();
  return {data, data + cpu.numel()};
}

at::Tensor AbsMax(const at::Tensor& min, const at::Tensor& max) {
  return at::maximum(min.detach().to(at::kCPU, at::kFloat).abs(),
                     max.detach().to(at::kCPU, at::kFloat).abs());
}

void CheckPair(const at::Tensor& min, const at::Tensor& max, int64_t channels,
               const std::string& where) {
  if (!min.defined() || !max.defined() || min.dim() != 1 || max.dim() != 1 ||
      min.numel() != channels || max.numel() != channels) {
    throw ExportError("activation range '" + where +
                      "': min and max must be [" + std::to_string(channels) +
                      "] tensors");
  }
}

}  // namespace

std::pair<at::Tensor, at::Tensor> PerChannelMinMax(const at::Tensor& x) {
  at::Tensor rows = x.detach().to(at::kFloat).reshape({-1, x.size(-1)});
  return {std::get<0>(rows.min(0)).to(at::kCPU),
          std::get<0>(rows.max(0)).to(at::kCPU)};
}

std::pair<at::Tensor, at::Tensor> MergeRanges(
    const std::pair<at::Tensor, at::Tensor>& a,
    const std::pair<at::Tensor, at::Tensor>& b) {
  if (!a.first.defined()) return b;
  if (!b.first.defined()) return a;
  return {at::minimum(a.first, b.first), at::maximum(a.second, b.second)};
}

double OutlierRatio(const at::Tensor& min, const at::Tensor& max) {
  at::Tensor absmax = AbsMax(min, max);
  if (absmax.numel() == 0) return 1.0;
  const double largest = absmax.max().item<double>();
  // The lower median, so the ratio is a value of the data for even C.
  const double median = std::get<0>(absmax.median(0)).item<double>();
  if (median > 0.0) return largest / median;
  return largest > 0.0 ? std::numeric_limits<double>::infinity() : 1.0;
}

nlohmann::json SummarizeRange(const ChannelRange& range) {
  const int64_t channels =
      range.before_min.defined() ? range.before_min.numel() : 0;
  CheckPair(range.before_min, range.before_max, channels, range.name);
  auto number = [](double value) {
    return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json();
  };
  nlohmann::json summary = {
      {"name", range.name},
      {"channels", channels},
      {"before_absmax",
       channels == 0
           ? 0.0
           : AbsMax(range.before_min, range.before_max).max().item<double>()},
      {"before_outlier_ratio",
       number(OutlierRatio(range.before_min, range.before_max))}};
  if (range.after_min.defined() || range.after_max.defined()) {
    CheckPair(range.after_min, range.after_max, channels, range.name);
    summary["after_absmax"] =
        channels == 0
            ? 0.0
            : AbsMax(range.after_min, range.after_max).max().item<double>();
    summary["after_outlier_ratio"] =
        number(OutlierRatio(range.after_min, range.after_max));
  }
  return summary;
}

std::vector<size_t> WorstRanges(const std::vector<ChannelRange>& ranges,
                                size_t count) {
  std::vector<std::pair<double, size_t>> scored;
  for (size_t i = 0; i < ranges.size(); ++i) {
    scored.emplace_back(
        OutlierRatio(ranges[i].before_min, ranges[i].before_max), i);
  }
  std::sort(scored.begin(), scored.end(), [&](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first > b.first;
    return ranges[a.second].name < ranges[b.second].name;
  });
  std::vector<size_t> worst;
  for (size_t i = 0; i < scored.size() && i < count; ++i) {
    worst.push_back(scored[i].second);
  }
  return worst;
}

std::string RenderRangePlot(const ChannelRange& range) {
  std::vector<SvgSeries> series;
  SvgSeries before;
  before.label = "before: per-channel [min, max]";
  before.values = Values(range.before_max);
  before.lower = Values(range.before_min);
  before.style = SvgStyle::kBand;
  before.color = "#999999";
  before.opacity = 0.6;
  series.push_back(std::move(before));
  if (range.after_min.defined() && range.after_max.defined()) {
    SvgSeries after;
    after.label = "after: per-channel [min, max]";
    after.values = Values(range.after_max);
    after.lower = Values(range.after_min);
    after.style = SvgStyle::kBand;
    after.color = "#1f77b4";
    after.opacity = 0.7;
    series.push_back(std::move(after));
  }
  SvgPlotOptions options;
  options.title = "Activation range per channel: " + range.name;
  options.x_label = "channel";
  options.y_label = "activation value";
  return RenderSvgPlot(options, series);
}

std::string PlotFileName(const std::string& name) {
  std::string file;
  for (char c : name) {
    const bool keep = std::isalnum(static_cast<unsigned char>(c)) || c == '.' ||
                      c == '_' || c == '-';
    file += keep ? c : '_';
  }
  return file + ".svg";
}

}  // namespace quantd::engine::exporting
