#include "client/quantctl/progress_renderer.h"

#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "client/quantctl/table.h"
#include "client/quantctl/transfer_progress.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Replays what a terminal does with the renderer's bytes: text, \n, \r and
// the three ANSI sequences it uses (cursor up, erase below, erase right).
class VirtualScreen {
 public:
  explicit VirtualScreen(const std::string& bytes) {
    lines_.push_back("");
    for (size_t i = 0; i < bytes.size(); ++i) {
      const char c = bytes[i];
      if (c == '\n') {
        if (++row_ == lines_.size()) lines_.push_back("");
        column_ = 0;
      } else if (c == '\r') {
        column_ = 0;
      } else if (c == '\x1b') {
        i = Escape(bytes, i);
      } else {
        std::string& line = lines_[row_];
        if (line.size() <= column_) line.resize(column_ + 1, ' ');
        line[column_++] = c;
      }
    }
    while (!lines_.empty() && lines_.back().empty()) lines_.pop_back();
  }
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  size_t Escape(const std::string& bytes, size_t i) {
    size_t end = i + 2;  // skip ESC [
    int count = 0;
    while (std::isdigit(static_cast<unsigned char>(bytes[end]))) {
      count = count * 10 + (bytes[end++] - '0');
    }
    switch (bytes[end]) {
      case 'A':
        row_ -= std::min<size_t>(row_, count);
        break;
      case 'J':
        lines_[row_].resize(std::min(lines_[row_].size(), column_));
        lines_.resize(row_ + 1);
        break;
      case 'K':
        lines_[row_].resize(std::min(lines_[row_].size(), column_));
        break;
    }
    return end;
  }

  std::vector<std::string> lines_;
  size_t row_ = 0;
  size_t column_ = 0;
};

absl::Time FixedClock() { return absl::FromUnixSeconds(1735812672); }

quantd::v1::JobEvent Progress(uint64_t sequence, const std::string& stage,
                              uint32_t block, uint32_t blocks,
                              double fraction) {
  quantd::v1::JobEvent event;
  event.set_sequence(sequence);
  event.mutable_time()->set_seconds(1735812672 + sequence);
  auto* progress = event.mutable_progress();
  progress->set_stage(stage);
  progress->set_block_index(block);
  progress->set_block_count(blocks);
  progress->set_fraction(fraction);
  progress->set_eta_seconds(90);
  return event;
}

quantd::v1::JobEvent State(uint64_t sequence, quantd::v1::JobState to) {
  quantd::v1::JobEvent event;
  event.set_sequence(sequence);
  event.mutable_time()->set_seconds(1735812672 + sequence);
  event.mutable_state_change()->set_to(to);
  event.mutable_state_change()->set_reason("leased by worker w-1");
  return event;
}

void Feed(ProgressRenderer& renderer) {
  renderer.OnEvent(State(1, quantd::v1::JOB_STATE_RUNNING));
  renderer.OnEvent(Progress(2, "load", 0, 0, 0.05));
  renderer.OnEvent(Progress(3, "calibrate", 0, 0, 0.1));
  renderer.OnEvent(Progress(4, "quantize", 0, 30, 0.2));
  renderer.OnEvent(Progress(5, "quantize", 11, 30, 0.4));
  quantd::v1::JobEvent log;
  log.set_sequence(6);
  log.mutable_log()->set_level("warn");
  log.mutable_log()->set_message("outlier\x1b[31m channel 17");
  renderer.OnEvent(log);
}

TEST(ProgressRendererTest, TerminalRedrawsBarsInPlace) {
  std::ostringstream out;
  ProgressRenderer renderer(out, {.is_tty = true, .width_columns = 72}, "j-1",
                            FixedClock);
  Feed(renderer);
  renderer.Finish();
  const VirtualScreen screen(out.str());
  const auto& lines = screen.lines();
  // Logged lines stay above the bar block; the block shows the latest state.
  ASSERT_EQ(lines.size(), 6u) << out.str();
  EXPECT_THAT(lines[0], HasSubstr("state=RUNNING"));
  EXPECT_THAT(lines[1], HasSubstr("level=warn"));
  // The server's escape sequence was defused, not sent to the terminal.
  EXPECT_THAT(lines[1], HasSubstr("\"outlier [31m channel"));
  EXPECT_THAT(lines[2], StartsWith("j-1 RUNNING ["));
  EXPECT_THAT(lines[2], HasSubstr("]  40%  ETA 1m30s"));
  EXPECT_THAT(lines[3], StartsWith("  load      [==="));
  EXPECT_THAT(lines[3], HasSubstr("] done"));
  EXPECT_THAT(lines[4], StartsWith("  calibrate [==="));
  EXPECT_THAT(lines[5], HasSubstr("] block 12/30"));
  for (const std::string& line : lines) {
    EXPECT_LE(DisplayWidth(line), 71u) << line;
  }
  // Redrawn, not appended: the cursor moved up over the old block.
  EXPECT_THAT(out.str(), HasSubstr("\x1b[4A"));
}

TEST(ProgressRendererTest, NarrowTerminalNeverWraps) {
  std::ostringstream out;
  ProgressRenderer renderer(out, {.is_tty = true, .width_columns = 30},
                            "j-01J9ZAAAAAAAAAAAAAAAAAAAAA", FixedClock);
  Feed(renderer);
  const VirtualScreen screen(out.str());
  for (const std::string& line : screen.lines()) {
    EXPECT_LE(DisplayWidth(line), 29u) << line;
  }
}

TEST(ProgressRendererTest, SuccessFillsEveryBar) {
  std::ostringstream out;
  ProgressRenderer renderer(out, {.is_tty = true, .width_columns = 80}, "j-1",
                            FixedClock);
  renderer.OnEvent(Progress(1, "quantize", 3, 30, 0.3));
  quantd::v1::JobEvent terminal;
  terminal.set_sequence(2);
  terminal.mutable_terminal()->set_state(quantd::v1::JOB_STATE_SUCCEEDED);
  renderer.OnEvent(terminal);
  renderer.Finish();
  const auto lines = VirtualScreen(out.str()).lines();
  ASSERT_GE(lines.size(), 2u);
  EXPECT_THAT(lines[lines.size() - 2], HasSubstr("SUCCEEDED"));
  EXPECT_THAT(lines[lines.size() - 2], HasSubstr("] 100%"));
  EXPECT_THAT(lines.back(), HasSubstr("] block 30/30"));
}

TEST(ProgressRendererTest, PipeGetsPlainTimestampedLines) {
  std::ostringstream out;
  ProgressRenderer renderer(out, {.is_tty = false, .width_columns = 80}, "j-1",
                            FixedClock);
  Feed(renderer);
  renderer.Note("event stream lost; resuming after event 6");
  renderer.Finish();
  const std::string text = out.str();
  for (char c : text) {
    EXPECT_FALSE(c != '\n' && static_cast<unsigned char>(c) < 0x20)
        << "control character " << static_cast<int>(c);
  }
  const std::vector<std::string> lines =
      absl::StrSplit(text, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 7u);
  EXPECT_EQ(lines[0],
            "2025-01-02T10:11:13Z job=j-1 state=RUNNING from=UNSPECIFIED "
            "attempt=0 reason=\"leased by worker w-1\"");
  EXPECT_EQ(lines[4],
            "2025-01-02T10:11:17Z job=j-1 stage=quantize block=12/30 "
            "progress=40% eta=1m30s");
  EXPECT_EQ(lines[5],
            "2025-01-02T10:11:12Z job=j-1 level=warn message=\"outlier [31m "
            "channel 17\"");
  EXPECT_EQ(lines[6],
            "2025-01-02T10:11:12Z job=j-1 note=\"event stream lost; resuming "
            "after event 6\"");
}

TEST(TransferProgressTest, TerminalRedrawsOneLine) {
  std::ostringstream out;
  TransferProgress progress(out, {.is_tty = true, .width_columns = 80},
                            "download", "model.safetensors", FixedClock);
  progress.Update(0, 4096);
  progress.Update(2048, 4096);
  progress.Update(4096, 4096);
  progress.Finish("done");
  const auto lines = VirtualScreen(out.str()).lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], StartsWith("download model.safetensors ["));
  EXPECT_THAT(lines[0], HasSubstr("4.0 KiB/4.0 KiB 100% done"));
}

TEST(TransferProgressTest, PipeReportsQuartersOnly) {
  std::ostringstream out;
  TransferProgress progress(out, {.is_tty = false, .width_columns = 80},
                            "upload", "m.gguf", FixedClock);
  for (uint64_t done = 0; done <= 100; done += 5) progress.Update(done, 100);
  progress.Finish("already present");
  const std::vector<std::string> lines =
      absl::StrSplit(out.str(), '\n', absl::SkipEmpty());
  EXPECT_THAT(lines, ElementsAre(HasSubstr("bytes=0/100 progress=0%"),
                                 HasSubstr("bytes=25/100 progress=25%"),
                                 HasSubstr("bytes=50/100 progress=50%"),
                                 HasSubstr("bytes=75/100 progress=75%"),
                                 HasSubstr("bytes=100/100 progress=100% "
                                           "outcome=\"already present\"")));
  EXPECT_EQ(out.str().find('\r'), std::string::npos);
}

}  // namespace
}  // namespace quantd::client
