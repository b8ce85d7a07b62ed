#include "worker/engine/export/svg_plot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "worker/engine/export/export_error.h"

namespace quantd::engine::exporting {
namespace {

// Counts opening tags named `tag` ("<polyline ...").
int Count(const std::string& svg, const std::string& tag) {
  int count = 0;
  for (size_t at = svg.find("<" + tag + " "); at != std::string::npos;
       at = svg.find("<" + tag + " ", at + 1)) {
    ++count;
  }
  return count;
}

TEST(SvgPlotTest, RendersEveryStyleWithAxesAndLegend) {
  SvgPlotOptions options;
  options.title = "ranges <a & b>";
  SvgSeries line{"line", {1.0, -2.0, 3.0}, {}, SvgStyle::kLine};
  SvgSeries bars{"bars", {0.5, 1.5}, {}, SvgStyle::kBar, "#ff0000", 0.5};
  SvgSeries band{"", {1.0, 2.0, 1.0}, {-1.0, -2.0, -1.0}, SvgStyle::kBand};
  std::string svg = RenderSvgPlot(options, {line, bars, band});
  EXPECT_EQ(svg.rfind("<?xml version=\"1.0\"", 0), 0u);
  EXPECT_NE(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            std::string::npos);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  EXPECT_NE(svg.find("ranges &lt;a &amp; b&gt;"), std::string::npos);
  EXPECT_EQ(Count(svg, "polyline"), 1);
  EXPECT_EQ(Count(svg, "polygon"), 1);
  // 2 bars, the frame, the background and one legend swatch per labelled
  // series.
  EXPECT_EQ(Count(svg, "rect"), 2 + 1 + 1 + 2);
  EXPECT_NE(svg.find(">-2<"), std::string::npos);  // A y tick at -2.
  EXPECT_EQ(svg, RenderSvgPlot(options, {line, bars, band}));
}

TEST(SvgPlotTest, DrawsNonFiniteValuesAsZero) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::string svg = RenderSvgPlot(
      {}, {{"x", {nan, std::numeric_limits<double>::infinity(), 1.0}}});
  // "dominant-baseline" contains "nan"; numbers never do.
  for (size_t at = svg.find("dominant"); at != std::string::npos;
       at = svg.find("dominant")) {
    svg.erase(at, 8);
  }
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  EXPECT_EQ(svg.find("inf"), std::string::npos);
  EXPECT_NE(svg.find("<polyline"), std::string::npos);
}

TEST(SvgPlotTest, RejectsMismatchedBandsAndTinyCanvases) {
  SvgSeries band{"b", {1.0, 2.0}, {0.0}, SvgStyle::kBand};
  EXPECT_THROW(RenderSvgPlot({}, {band}), ExportError);
  SvgPlotOptions tiny;
  tiny.width = 10;
  EXPECT_THROW(RenderSvgPlot(tiny, {}), ExportError);
}

TEST(SvgPlotTest, EscapesMarkupAndDropsControlCharacters) {
  EXPECT_EQ(EscapeXml("a<b>&\"c'\x01"), "a&lt;b&gt;&amp;&quot;c&apos;");
}

}  // namespace
}  // namespace quantd::engine::exporting
