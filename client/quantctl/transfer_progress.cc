#include "client/quantctl/transfer_progress.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/quantctl/humanize.h"
#include "client/quantctl/text_line.h"

namespace quantd::client {
namespace {

constexpr int kBarWidth = 24;

}  // namespace

TransferProgress::TransferProgress(std::ostream& out, TerminalInfo terminal,
                                   std::string verb, std::string name,
                                   Clock clock)
    : out_(out),
      terminal_(terminal),
      verb_(std::move(verb)),
      name_(SanitizeText(name)),
      clock_(std::move(clock)) {}

std::string TransferProgress::Line() const {
  const double fraction =
      total_bytes_ == 0 ? 0.0 : static_cast<double>(done_bytes_) / total_bytes_;
  const std::string sizes =
      absl::StrCat(FormatBytes(done_bytes_), "/", FormatBytes(total_bytes_));
  if (terminal_.is_tty) {
    return absl::StrCat(verb_, " ", name_, " ", RenderBar(fraction, kBarWidth),
                        " ", sizes, " ", FormatPercent(fraction));
  }
  return absl::StrCat(
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", clock_(), absl::UTCTimeZone()),
      " ", verb_, "=", QuoteValue(name_), " bytes=", done_bytes_, "/",
      total_bytes_, " progress=", FormatPercent(fraction));
}

void TransferProgress::Update(uint64_t done_bytes, uint64_t total_bytes) {
  done_bytes_ = done_bytes;
  total_bytes_ = total_bytes;
  if (terminal_.is_tty) {
    out_ << "\r" << FitToWidth(Line(), terminal_.width_columns - 1) << "\x1b[K"
         << std::flush;
    return;
  }
  // The end is Finish's to report, with its outcome.
  if (total_bytes != 0 && done_bytes >= total_bytes) return;
  const int quarter = total_bytes == 0 ? 0
                                       : static_cast<int>(std::min<uint64_t>(
                                             3, done_bytes * 4 / total_bytes));
  if (quarter > reported_quarter_) {
    reported_quarter_ = quarter;
    out_ << Line() << "\n" << std::flush;
  }
}

void TransferProgress::Finish(const std::string& outcome) {
  if (finished_) return;
  finished_ = true;
  if (terminal_.is_tty) {
    out_ << "\r"
         << FitToWidth(absl::StrCat(Line(), " ", outcome),
                       terminal_.width_columns - 1)
         << "\x1b[K\n"
         << std::flush;
    return;
  }
  out_ << Line() << " outcome=" << QuoteValue(outcome) << "\n" << std::flush;
}

}  // namespace quantd::client
