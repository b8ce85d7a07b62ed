#include "worker/agent/text_tail.h"

#include <fstream>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace quantd::agent {

std::string TailLines(const std::string& path, size_t max_lines,
                      size_t max_bytes) {
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  if (!file || max_lines == 0) return "";
  const std::streamoff size = file.tellg();
  if (size <= 0) return "";
  const std::streamoff start =
      size > static_cast<std::streamoff>(max_bytes)
          ? size - static_cast<std::streamoff>(max_bytes)
          : 0;
  file.seekg(start);
  std::string text(static_cast<size_t>(size - start), '\0');
  file.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(file.gcount()));
  absl::string_view view(text);
  if (start > 0) {
    const size_t newline = view.find('\n');
    view = newline == absl::string_view::npos ? absl::string_view()
                                              : view.substr(newline + 1);
  }
  while (!view.empty() && (view.back() == '\n' || view.back() == '\r')) {
    view.remove_suffix(1);
  }
  if (view.empty()) return "";
  std::vector<absl::string_view> lines = absl::StrSplit(view, '\n');
  if (lines.size() > max_lines) {
    lines.erase(lines.begin(), lines.end() - static_cast<long>(max_lines));
  }
  return absl::StrJoin(lines, "\n");
}

}  // namespace quantd::agent
