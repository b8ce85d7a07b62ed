// RenderSvgPlot: a tiny, dependency-free SVG chart writer for the export
// report: series of values over an integer x axis (a channel index),
// drawn as polylines, bars, or filled bands between a lower and an upper
// curve, with axes, "nice" tick labels, a title and a legend. The output
// is a standalone, well-formed SVG 1.1 document (text is XML-escaped;
// numbers use fixed formatting, so the same input gives the same bytes).
//
// Plain functions; thread-safe.
#pragma once

#include <string>
#include <vector>

namespace quantd::engine::exporting {

enum class SvgStyle {
  kLine,  // A polyline through (i, values[i]).
  kBar,   // A bar from 0 to values[i] per index.
  kBand,  // A filled area between lower[i] and values[i].
};

struct SvgSeries {
  std::string label;           // Legend text; empty: no legend entry.
  std::vector<double> values;  // Non-finite values are drawn as 0.
  std::vector<double> lower;   // kBand only: same length as values.
  SvgStyle style = SvgStyle::kLine;
  std::string color = "#1f77b4";  // Any SVG colour.
  double opacity = 1.0;           // Fill opacity of bars and bands, (0, 1].
};

struct SvgPlotOptions {
  std::string title;
  std::string x_label;
  std::string y_label;
  int width = 900;   // Pixels, >= 200.
  int height = 420;  // Pixels, >= 150.
};

// Throws ExportError for a band whose lower curve has another length or
// for sizes below the minimum. Series may differ in length; the x axis
// spans the longest.
std::string RenderSvgPlot(const SvgPlotOptions& options,
                          const std::vector<SvgSeries>& series);

// `text` with &, <, >, " and ' replaced by XML entities.
std::string EscapeXml(const std::string& text);

}  // namespace quantd::engine::exporting
