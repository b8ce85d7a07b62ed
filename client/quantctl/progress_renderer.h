// Renders a job's event stream for people. On a terminal: a block of bars
// (the job's overall progress, then one bar per stage seen) redrawn in place
// with ANSI cursor movement, with state changes, logs and artifacts printed
// above it. Anywhere else: one plain timestamped key=value line per event,
// with no control characters, so logs and pipes stay clean.
//
// Thread-safety: none; feed it from the thread that reads the stream.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/quantctl/terminal.h"
#include "quantd/v1/types.pb.h"

namespace quantd::client {

class ProgressRenderer {
 public:
  using Clock = std::function<absl::Time()>;

  // `out` must outlive the renderer. `clock` stamps lines of events that
  // carry no time.
  ProgressRenderer(std::ostream& out, TerminalInfo terminal, std::string job_id,
                   Clock clock = absl::Now);

  void OnEvent(const quantd::v1::JobEvent& event);
  // A message of quantctl's own (e.g. "stream lost, resuming"), printed
  // like a log line.
  void Note(const std::string& message);
  // Draws the final bars (terminal) and leaves the cursor on a fresh line.
  void Finish();

 private:
  struct Stage {
    std::string name;
    uint32_t block_index = 0;
    uint32_t block_count = 0;
    bool done = false;
  };

  void OnProgress(const quantd::v1::Progress& progress);
  void PrintAbove(const std::string& line);
  void Redraw();
  std::vector<std::string> BarLines() const;
  std::string StageLine(const Stage& stage, size_t name_width) const;
  std::string Stamp(const quantd::v1::JobEvent& event) const;
  std::string PlainLine(const quantd::v1::JobEvent& event) const;
  int BarWidth(size_t fixed_columns) const;

  std::ostream& out_;
  const TerminalInfo terminal_;
  const std::string job_id_;
  const Clock clock_;
  std::string state_ = "QUEUED";
  double fraction_ = 0;
  double eta_seconds_ = -1;
  std::vector<Stage> stages_;
  // Lines of the bar block currently on screen (terminal mode).
  int drawn_lines_ = 0;
};

}  // namespace quantd::client
