// LineReader: splits the bytes arriving on a pipe into lines, waiting for
// data with a timeout so that its caller can keep checking deadlines while
// the writer is silent. Lines longer than a cap are cut (and flagged) rather
// than buffered without bound: the writer is another program.
//
// Thread-safety: not thread-safe; one reader thread. Does not own the fd.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace quantd::agent {

struct Line {
  // Without the trailing newline.
  std::string text;
  // The line was longer than the cap; `text` holds its first bytes only.
  bool truncated = false;
};

struct ReadBatch {
  // Complete lines that arrived, oldest first.
  std::vector<Line> lines;
  // The writer closed the pipe (or it failed); a final unterminated line,
  // if any, is in `lines`.
  bool eof = false;
};

class LineReader {
 public:
  // `fd` must stay open while the reader is used.
  LineReader(int fd, size_t max_line_bytes);

  // Waits up to `timeout` for data, then reads what is available.
  ReadBatch Read(absl::Duration timeout);

 private:
  void Append(const char* data, size_t size, ReadBatch& batch);

  const int fd_;
  const size_t max_line_bytes_;
  std::string partial_;
  bool partial_truncated_ = false;
};

}  // namespace quantd::agent
