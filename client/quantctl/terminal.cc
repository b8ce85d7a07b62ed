#include "client/quantctl/terminal.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/numbers.h"

namespace quantd::client {

TerminalInfo DetectTerminal(int fd) {
  TerminalInfo info;
  info.is_tty = isatty(fd) == 1;
  struct winsize size {};
  if (info.is_tty && ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
    info.width_columns = size.ws_col;
    return info;
  }
  int columns = 0;
  const char* env = std::getenv("COLUMNS");
  if (env != nullptr && absl::SimpleAtoi(env, &columns) && columns > 0) {
    info.width_columns = columns;
  }
  return info;
}

}  // namespace quantd::client
