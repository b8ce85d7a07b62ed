#include "client/quantctl/table.h"

#include <algorithm>
#include <utility>

namespace quantd::client {

size_t DisplayWidth(const std::string& text) {
  size_t width = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++width;
  }
  return width;
}

Table::Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void Table::AddRow(std::vector<std::string> cells) {
  rows_.push_back(std::move(cells));
}

void Table::AlignRight(size_t column) {
  if (right_aligned_.size() <= column) right_aligned_.resize(column + 1);
  right_aligned_[column] = true;
}

std::string Table::Render() const {
  std::vector<const std::vector<std::string>*> lines;
  if (!headers_.empty()) lines.push_back(&headers_);
  for (const auto& row : rows_) lines.push_back(&row);
  std::vector<size_t> widths;
  for (const auto* line : lines) {
    if (widths.size() < line->size()) widths.resize(line->size());
    for (size_t i = 0; i < line->size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth((*line)[i]));
    }
  }
  std::string out;
  for (const auto* line : lines) {
    std::string text;
    for (size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < line->size() ? (*line)[i] : "";
      const std::string pad(widths[i] - DisplayWidth(cell), ' ');
      const bool right = i < right_aligned_.size() && right_aligned_[i];
      if (i > 0) text += "  ";
      text += right ? pad + cell : cell + pad;
    }
    text.erase(text.find_last_not_of(' ') + 1);
    out += text + "\n";
  }
  return out;
}

}  // namespace quantd::client
