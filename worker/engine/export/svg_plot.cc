#include "worker/engine/export/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "worker/engine/export/export_error.h"

namespace quantd::engine::exporting {
namespace {

// Plot area margins in pixels: room for tick labels, titles and legend.
constexpr double kLeft = 80.0;
constexpr double kRight = 20.0;
constexpr double kTop = 40.0;
constexpr double kBottom = 60.0;

std::string Number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.2f", value);
  return buffer;
}

std::string Label(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.4g", value);
  return buffer;
}

double Finite(double value) { return std::isfinite(value) ? value : 0.0; }

// A step of 1, 2 or 5 times a power of ten giving about `target` ticks.
double NiceStep(double span, int target) {
  const double raw = span / target;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  const double fraction = raw / power;
  if (fraction <= 1.0) return power;
  if (fraction <= 2.0) return 2.0 * power;
  if (fraction <= 5.0) return 5.0 * power;
  return 10.0 * power;
}

struct Frame {
  double x0, x1, y0, y1;  // Data range.
  double width, height;   // Pixels.
  double X(double x) const {
    return kLeft + (x - x0) / (x1 - x0) * (width - kLeft - kRight);
  }
  double Y(double y) const {
    return height - kBottom - (y - y0) / (y1 - y0) * (height - kTop - kBottom);
  }
};

Frame MakeFrame(const SvgPlotOptions& options,
                const std::vector<SvgSeries>& series) {
  double low = 0.0, high = 0.0;
  size_t count = 1;
  for (const SvgSeries& s : series) {
    count = std::max(count, s.values.size());
    for (double v : s.values) {
      low = std::min(low, Finite(v));
      high = std::max(high, Finite(v));
    }
    for (double v : s.lower) low = std::min(low, Finite(v));
  }
  if (high - low <= 0.0) high = low + 1.0;
  const double step = NiceStep(high - low, 5);
  return {-0.5,
          static_cast<double>(count) - 0.5,
          std::floor(low / step) * step,
          std::ceil(high / step) * step,
          static_cast<double>(options.width),
          static_cast<double>(options.height)};
}

std::string Axes(const Frame& frame, const SvgPlotOptions& options) {
  std::string out;
  const double step = NiceStep(frame.y1 - frame.y0, 5);
  const int ticks = static_cast<int>(std::lround((frame.y1 - frame.y0) / step));
  for (int k = 0; k <= ticks; ++k) {
    const double y = frame.y0 + k * step;
    const std::string py = Number(frame.Y(y));
    out += "<line x1=\"" + Number(kLeft) + "\" y1=\"" + py + "\" x2=\"" +
           Number(frame.width - kRight) + "\" y2=\"" + py +
           "\" stroke=\"#dddddd\" stroke-width=\"1\"/>\n";
    out += "<text x=\"" + Number(kLeft - 6) + "\" y=\"" + py +
           "\" text-anchor=\"end\" dominant-baseline=\"middle\">" +
           Label(std::abs(y) < step * 1e-9 ? 0.0 : y) + "</text>\n";
  }
  const double span = frame.x1 - frame.x0;
  const double x_step = std::max(1.0, NiceStep(span, 8));
  for (int k = 0; k * x_step <= frame.x1; ++k) {
    const double x = k * x_step;
    out += "<text x=\"" + Number(frame.X(x)) + "\" y=\"" +
           Number(frame.height - kBottom + 16) + "\" text-anchor=\"middle\">" +
           Label(x) + "</text>\n";
  }
  out += "<rect x=\"" + Number(kLeft) + "\" y=\"" + Number(kTop) +
         "\" width=\"" + Number(frame.width - kLeft - kRight) + "\" height=\"" +
         Number(frame.height - kTop - kBottom) +
         "\" fill=\"none\" stroke=\"#333333\" stroke-width=\"1\"/>\n";
  out += "<text x=\"" + Number(frame.width / 2) + "\" y=\"24\" " +
         "text-anchor=\"middle\" font-size=\"15\">" + EscapeXml(options.title) +
         "</text>\n";
  out += "<text x=\"" + Number(frame.width / 2) + "\" y=\"" +
         Number(frame.height - 14) + "\" text-anchor=\"middle\">" +
         EscapeXml(options.x_label) + "</text>\n";
  out += "<text x=\"16\" y=\"" + Number(frame.height / 2) +
         "\" text-anchor=\"middle\" transform=\"rotate(-90 16 " +
         Number(frame.height / 2) + ")\">" + EscapeXml(options.y_label) +
         "</text>\n";
  return out;
}

std::string Points(const Frame& frame, const std::vector<double>& values,
                   bool reverse) {
  std::string points;
  const size_t n = values.size();
  for (size_t k = 0; k < n; ++k) {
    const size_t i = reverse ? n - 1 - k : k;
    if (!points.empty()) points += ' ';
    points += Number(frame.X(static_cast<double>(i))) + "," +
              Number(frame.Y(Finite(values[i])));
  }
  return points;
}

std::string Series(const Frame& frame, const SvgSeries& s) {
  std::string out;
  const std::string fill = "fill=\"" + EscapeXml(s.color) +
                           "\" fill-opacity=\"" + Label(s.opacity) + "\"";
  if (s.style == SvgStyle::kLine) {
    out += "<polyline fill=\"none\" stroke=\"" + EscapeXml(s.color) +
           "\" stroke-width=\"1.2\" points=\"" +
           Points(frame, s.values, false) + "\"/>\n";
  } else if (s.style == SvgStyle::kBand) {
    out += "<polygon " + fill + " stroke=\"none\" points=\"" +
           Points(frame, s.values, false) + " " + Points(frame, s.lower, true) +
           "\"/>\n";
  } else {
    const double width = std::max(0.5, (frame.X(1.0) - frame.X(0.0)) * 0.8);
    for (size_t i = 0; i < s.values.size(); ++i) {
      const double x = frame.X(static_cast<double>(i)) - width / 2;
      const double a = frame.Y(0.0), b = frame.Y(Finite(s.values[i]));
      out += "<rect x=\"" + Number(x) + "\" y=\"" + Number(std::min(a, b)) +
             "\" width=\"" + Number(width) + "\" height=\"" +
             Number(std::abs(a - b)) + "\" " + fill + "/>\n";
    }
  }
  return out;
}

std::string Legend(const Frame& frame, const std::vector<SvgSeries>& series) {
  std::string out;
  double y = kTop + 14;
  for (const SvgSeries& s : series) {
    if (s.label.empty()) continue;
    const double x = frame.width - kRight - 190;
    out += "<rect x=\"" + Number(x) + "\" y=\"" + Number(y - 9) +
           "\" width=\"12\" height=\"12\" fill=\"" + EscapeXml(s.color) +
           "\"/>\n<text x=\"" + Number(x + 18) + "\" y=\"" + Number(y) +
           "\" dominant-baseline=\"middle\">" + EscapeXml(s.label) +
           "</text>\n";
    y += 18;
  }
  return out;
}

}  // namespace

std::string EscapeXml(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // XML 1.0 forbids most control characters even as entities.
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n') {
          out += c;
        }
    }
  }
  return out;
}

std::string RenderSvgPlot(const SvgPlotOptions& options,
                          const std::vector<SvgSeries>& series) {
  if (options.width < 200 || options.height < 150) {
    throw ExportError("RenderSvgPlot: plot must be at least 200x150 pixels");
  }
  for (const SvgSeries& s : series) {
    if (s.style == SvgStyle::kBand && s.lower.size() != s.values.size()) {
      throw ExportError("RenderSvgPlot: band '" + s.label +
                        "' has lower and upper curves of different lengths");
    }
  }
  const Frame frame = MakeFrame(options, series);
  std::string out =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" +
      std::to_string(options.width) + "\" height=\"" +
      std::to_string(options.height) + "\" viewBox=\"0 0 " +
      std::to_string(options.width) + " " + std::to_string(options.height) +
      "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  out += Axes(frame, options);
  for (const SvgSeries& s : series) out += Series(frame, s);
  out += Legend(frame, series);
  out += "</svg>\n";
  return out;
}

}  // namespace quantd::engine::exporting
