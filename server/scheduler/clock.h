// The scheduler's notion of time, injected so tests can move it by hand
// (lease expiry, backoff, cancel grace periods, deadlines).
//
// Thread-safety: both clocks are safe from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace quantd::scheduler {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch.
  virtual int64_t NowMillis() const = 0;
};

class SystemClock : public Clock {
 public:
  int64_t NowMillis() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// Stands still until told to move.
class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1'700'000'000'000)
      : now_ms_(start_ms) {}
  int64_t NowMillis() const override { return now_ms_.load(); }
  void AdvanceMillis(int64_t ms) { now_ms_.fetch_add(ms); }
  void AdvanceSeconds(double seconds) {
    AdvanceMillis(static_cast<int64_t>(seconds * 1000));
  }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace quantd::scheduler
