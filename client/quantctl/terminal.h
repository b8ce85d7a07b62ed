// What quantctl knows about where its output goes: whether a stream is a
// terminal (so progress may redraw itself with \r and ANSI escapes) and how
// wide it is. Tests build these by hand to fake a terminal.
#pragma once

#include <ostream>

namespace quantd::client {

struct TerminalInfo {
  // The stream is a terminal: progress redraws in place. Otherwise output
  // is plain text lines with no control characters.
  bool is_tty = false;
  // Columns; lines drawn in place never exceed it (a wrapped line would
  // break the redraw).
  int width_columns = 80;
};

// Probes file descriptor `fd` (isatty, TIOCGWINSZ, then $COLUMNS, then 80).
TerminalInfo DetectTerminal(int fd);

// The two output streams of a command and what they are attached to. Not
// owned; they outlive the command.
struct Io {
  std::ostream& out;
  std::ostream& err;
  TerminalInfo out_terminal;
  TerminalInfo err_terminal;
};

}  // namespace quantd::client
