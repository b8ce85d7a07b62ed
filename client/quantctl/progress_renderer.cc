#include "client/quantctl/progress_renderer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/quantctl/humanize.h"
#include "client/quantctl/proto_names.h"
#include "client/quantctl/text_line.h"

namespace quantd::client {
namespace {

// Bars never grow past this: wider ones only slow the eye.
constexpr int kMaxBarWidth = 40;
constexpr int kMinBarWidth = 10;

std::string Percent(double fraction) {
  return absl::StrFormat("%3.0f%%", std::clamp(fraction, 0.0, 1.0) * 100.0);
}

// " stage=quantize block=12/30 progress=40% eta=1m30s"
std::string ProgressFields(const quantd::v1::Progress& progress) {
  std::string fields = absl::StrCat(" stage=", QuoteValue(progress.stage()));
  if (progress.block_count() > 0) {
    absl::StrAppend(&fields, " block=", progress.block_index() + 1, "/",
                    progress.block_count());
  }
  absl::StrAppend(&fields, " progress=", FormatPercent(progress.fraction()));
  if (progress.eta_seconds() >= 0) {
    absl::StrAppend(&fields, " eta=", FormatDuration(progress.eta_seconds()));
  }
  return fields;
}

}  // namespace

ProgressRenderer::ProgressRenderer(std::ostream& out, TerminalInfo terminal,
                                   std::string job_id, Clock clock)
    : out_(out),
      terminal_(terminal),
      job_id_(std::move(job_id)),
      clock_(std::move(clock)) {}

void ProgressRenderer::OnEvent(const quantd::v1::JobEvent& event) {
  switch (event.kind_case()) {
    case quantd::v1::JobEvent::kStateChange:
      state_ = StateName(event.state_change().to());
      break;
    case quantd::v1::JobEvent::kProgress:
      OnProgress(event.progress());
      break;
    case quantd::v1::JobEvent::kTerminal:
      state_ = StateName(event.terminal().state());
      if (event.terminal().state() == quantd::v1::JOB_STATE_SUCCEEDED) {
        fraction_ = 1;
        eta_seconds_ = 0;
        for (Stage& stage : stages_) stage.done = true;
      }
      break;
    default:
      break;
  }
  if (!terminal_.is_tty) {
    out_ << PlainLine(event) << "\n" << std::flush;
    return;
  }
  if (event.kind_case() == quantd::v1::JobEvent::kProgress) {
    Redraw();
  } else {
    PrintAbove(PlainLine(event));
  }
}

void ProgressRenderer::OnProgress(const quantd::v1::Progress& progress) {
  fraction_ = progress.fraction();
  eta_seconds_ = progress.eta_seconds();
  auto it = std::find_if(stages_.begin(), stages_.end(), [&](const Stage& s) {
    return s.name == progress.stage();
  });
  if (it == stages_.end()) {
    for (Stage& stage : stages_) stage.done = true;
    stages_.push_back({progress.stage()});
    it = stages_.end() - 1;
  }
  it->block_index = progress.block_index();
  it->block_count = progress.block_count();
}

void ProgressRenderer::Note(const std::string& message) {
  const std::string line = absl::StrCat(Stamp(quantd::v1::JobEvent()),
                                        " note=", QuoteValue(message));
  if (terminal_.is_tty) {
    PrintAbove(line);
  } else {
    out_ << line << "\n" << std::flush;
  }
}

void ProgressRenderer::Finish() {
  if (terminal_.is_tty && !stages_.empty()) Redraw();
  out_ << std::flush;
}

void ProgressRenderer::PrintAbove(const std::string& line) {
  std::string frame;
  if (drawn_lines_ > 0)
    frame = absl::StrCat("\x1b[", drawn_lines_, "A\r\x1b[J");
  drawn_lines_ = 0;
  out_ << frame << FitToWidth(line, terminal_.width_columns - 1) << "\n";
  if (!stages_.empty()) Redraw();
  out_ << std::flush;
}

void ProgressRenderer::Redraw() {
  std::string frame;
  if (drawn_lines_ > 0) frame = absl::StrCat("\x1b[", drawn_lines_, "A");
  frame += "\r\x1b[J";
  const std::vector<std::string> lines = BarLines();
  for (const std::string& line : lines) {
    // One column spare: a line that fills the width wraps on some
    // terminals and the cursor arithmetic would be off by one.
    absl::StrAppend(&frame, FitToWidth(line, terminal_.width_columns - 1),
                    "\n");
  }
  drawn_lines_ = static_cast<int>(lines.size());
  out_ << frame << std::flush;
}

int ProgressRenderer::BarWidth(size_t fixed_columns) const {
  const int available =
      terminal_.width_columns - 1 - static_cast<int>(fixed_columns) - 2;
  return std::clamp(available, kMinBarWidth, kMaxBarWidth);
}

std::vector<std::string> ProgressRenderer::BarLines() const {
  size_t name_width = 0;
  for (const Stage& stage : stages_) {
    name_width = std::max(name_width, stage.name.size());
  }
  const std::string head = absl::StrCat(job_id_, " ", state_, " ");
  std::string tail = absl::StrCat(" ", Percent(fraction_));
  if (eta_seconds_ >= 0 && fraction_ < 1) {
    absl::StrAppend(&tail, "  ETA ", FormatDuration(eta_seconds_));
  }
  std::vector<std::string> lines = {absl::StrCat(
      head, RenderBar(fraction_, BarWidth(head.size() + tail.size())), tail)};
  for (const Stage& stage : stages_) {
    lines.push_back(StageLine(stage, name_width));
  }
  return lines;
}

std::string ProgressRenderer::StageLine(const Stage& stage,
                                        size_t name_width) const {
  std::string name = SanitizeText(stage.name);
  name.resize(std::max(name_width, name.size()), ' ');
  const std::string head = absl::StrCat("  ", name, " ");
  double fraction = stage.done ? 1.0 : 0.0;
  std::string tail = stage.done ? " done" : " ...";
  if (stage.block_count > 0) {
    const uint32_t finished =
        stage.done ? stage.block_count
                   : std::min(stage.block_index + 1, stage.block_count);
    fraction = static_cast<double>(finished) / stage.block_count;
    tail = absl::StrCat(" block ", finished, "/", stage.block_count);
  }
  // Bars of every stage line up under each other.
  const size_t fixed = head.size() + std::string(" block 000/000").size();
  return absl::StrCat(head, RenderBar(fraction, BarWidth(fixed)), tail);
}

std::string ProgressRenderer::Stamp(const quantd::v1::JobEvent& event) const {
  std::string stamp = FormatTimestamp(event.time());
  if (stamp.empty()) {
    stamp =
        absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", clock_(), absl::UTCTimeZone());
  }
  return absl::StrCat(stamp, " job=", job_id_);
}

std::string ProgressRenderer::PlainLine(
    const quantd::v1::JobEvent& event) const {
  std::string line = Stamp(event);
  switch (event.kind_case()) {
    case quantd::v1::JobEvent::kStateChange: {
      const auto& change = event.state_change();
      absl::StrAppend(&line, " state=", StateName(change.to()),
                      " from=", StateName(change.from()),
                      " attempt=", change.attempt());
      if (!change.reason().empty()) {
        absl::StrAppend(&line, " reason=", QuoteValue(change.reason()));
      }
      break;
    }
    case quantd::v1::JobEvent::kProgress:
      absl::StrAppend(&line, ProgressFields(event.progress()));
      break;
    case quantd::v1::JobEvent::kLog:
      absl::StrAppend(&line, " level=", QuoteValue(event.log().level()),
                      " message=", QuoteValue(event.log().message()));
      break;
    case quantd::v1::JobEvent::kArtifact:
      absl::StrAppend(
          &line, " artifact=", QuoteValue(event.artifact().name()),
          " size=", QuoteValue(FormatBytes(event.artifact().size_bytes())));
      break;
    case quantd::v1::JobEvent::kTerminal:
      absl::StrAppend(&line, " final=", StateName(event.terminal().state()));
      if (event.terminal().has_error()) {
        absl::StrAppend(
            &line, " error=", QuoteValue(event.terminal().error().message()));
      }
      break;
    default:
      absl::StrAppend(&line, " event=unknown");
  }
  return line;
}

}  // namespace quantd::client
