// A plain-text table: columns padded to their widest cell, two spaces
// apart, no borders (the style of kubectl and docker). Widths count UTF-8
// code points, so the ASCII-only output stays aligned.
//
// Thread-safety: none; build and render on one thread.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace quantd::client {

class Table {
 public:
  // An empty `headers` prints no header line.
  explicit Table(std::vector<std::string> headers);

  // Short rows are padded with empty cells; extra cells are kept and widen
  // the table.
  void AddRow(std::vector<std::string> cells);
  // Numbers read better right-aligned.
  void AlignRight(size_t column);

  bool empty() const { return rows_.empty(); }
  // Every line ends with '\n'; trailing spaces are trimmed.
  std::string Render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<bool> right_aligned_;
};

// Display width of a UTF-8 string (code points).
size_t DisplayWidth(const std::string& text);

}  // namespace quantd::client
