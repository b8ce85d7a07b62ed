#include "client/quantctl/text_line.h"

#include <algorithm>
#include <cmath>

namespace quantd::client {

std::string SanitizeText(absl::string_view text) {
  std::string out(text);
  for (char& c : out) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) c = ' ';
  }
  return out;
}

std::string FitToWidth(absl::string_view line, int width) {
  if (width <= 0) return "";
  int columns = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    const auto byte = static_cast<unsigned char>(line[i]);
    if ((byte & 0xC0) != 0x80 && ++columns > width) {
      return std::string(line.substr(0, i));
    }
  }
  return std::string(line);
}

std::string RenderBar(double fraction, int inner_width) {
  if (!std::isfinite(fraction)) fraction = 0;
  fraction = std::clamp(fraction, 0.0, 1.0);
  inner_width = std::max(inner_width, 1);
  const int filled = static_cast<int>(std::floor(fraction * inner_width));
  std::string bar = "[";
  bar.append(filled, '=');
  if (filled < inner_width) {
    bar += filled > 0 ? '>' : ' ';
    bar.append(inner_width - filled - 1, ' ');
  }
  return bar + "]";
}

std::string QuoteValue(absl::string_view value) {
  const std::string clean = SanitizeText(value);
  if (!clean.empty() && clean.find_first_of(" \"=\\") == std::string::npos) {
    return clean;
  }
  std::string out = "\"";
  for (char c : clean) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace quantd::client
