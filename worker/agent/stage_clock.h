// StageClock: turns the stream of progress events into time spent per
// engine stage, for the quantd_worker_engine_stage_seconds histogram. A
// stage ends when a progress event names another stage, or when the engine
// ends.
//
// Thread-safety: not thread-safe; fed by the thread that reads the engine.
#pragma once

#include <functional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace quantd::agent {

class StageClock {
 public:
  using Clock = std::function<absl::Time()>;
  using Sink = std::function<void(absl::string_view stage, double seconds)>;

  // `sink` receives each finished stage; `clock` is injectable for tests.
  explicit StageClock(Sink sink, Clock clock = absl::Now)
      : sink_(std::move(sink)), clock_(std::move(clock)) {}

  // A progress event for `stage` arrived.
  void Observe(absl::string_view stage) {
    if (stage.empty() || stage == current_) return;
    const absl::Time now = clock_();
    Close(now);
    current_ = std::string(stage);
    started_ = now;
  }

  // The engine ended: closes the current stage.
  void Finish() { Close(clock_()); }

 private:
  void Close(absl::Time now) {
    if (current_.empty()) return;
    sink_(current_, absl::ToDoubleSeconds(now - started_));
    current_.clear();
  }

  Sink sink_;
  Clock clock_;
  std::string current_;
  absl::Time started_;
};

}  // namespace quantd::agent
