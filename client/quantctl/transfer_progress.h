// Progress of one upload or download in bytes. On a terminal: a single line
// redrawn with \r. Elsewhere: a plain timestamped line when the transfer
// starts, at every quarter, and when it ends.
//
// Thread-safety: none.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/quantctl/terminal.h"

namespace quantd::client {

class TransferProgress {
 public:
  using Clock = std::function<absl::Time()>;

  // `verb` is "upload" or "download"; `name` the file shown. `out` must
  // outlive this object.
  TransferProgress(std::ostream& out, TerminalInfo terminal, std::string verb,
                   std::string name, Clock clock = absl::Now);

  // Bytes done so far out of `total_bytes` (0 when unknown yet).
  void Update(uint64_t done_bytes, uint64_t total_bytes);
  // Ends the line; `outcome` ("done", "already present", "resumed") is
  // appended.
  void Finish(const std::string& outcome);

 private:
  std::string Line() const;

  std::ostream& out_;
  const TerminalInfo terminal_;
  const std::string verb_;
  const std::string name_;
  const Clock clock_;
  uint64_t done_bytes_ = 0;
  uint64_t total_bytes_ = 0;
  // Plain mode: the last quarter (0..3) reported; -1 before the first line.
  // The end is reported by Finish.
  int reported_quarter_ = -1;
  bool finished_ = false;
};

}  // namespace quantd::client
