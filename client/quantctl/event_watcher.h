// Follows a job's event stream to its end across dropped connections:
// when WatchJob breaks (UNAVAILABLE, a reset stream, or an end without the
// terminal event) it reopens the stream after the last sequence seen, so
// the caller gets every event exactly once and in order.
//
// The stream is injected (EventStreamOpener), so the resume logic is tested
// with a fake that drops; the real one wraps JobService.WatchJob.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "quantd/v1/types.pb.h"

namespace quantd::client {

// One open WatchJob stream. Destroying it before the end cancels the call.
class EventStream {
 public:
  virtual ~EventStream() = default;
  // False at the end of the stream (then call Finish).
  virtual bool Read(quantd::v1::JobEvent* event) = 0;
  virtual absl::Status Finish() = 0;
};

using EventStreamOpener =
    std::function<std::unique_ptr<EventStream>(uint64_t after_sequence)>;

struct WatchOptions {
  // Events with sequence <= after_sequence are not delivered.
  uint64_t after_sequence = 0;
  // Reconnects in a row that deliver nothing before giving up.
  int max_reconnects = 10;
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(5);
  // Injected so tests do not sleep.
  std::function<void(absl::Duration)> sleep = absl::SleepFor;
  // Told before each reconnect, with the error that broke the stream.
  std::function<void(const absl::Status&, uint64_t resume_after)> on_reconnect;
};

// Called for each new event, the terminal one included; returning false
// stops watching early.
using EventCallback = std::function<bool(const quantd::v1::JobEvent&)>;

// Returns the terminal event, or nullopt when `on_event` stopped early.
// Errors other than a broken stream (NOT_FOUND, OUT_OF_RANGE,
// UNAUTHENTICATED, ...) end the watch at once; a broken stream ends it
// after max_reconnects fruitless reconnects, with the last error.
[[nodiscard]] absl::StatusOr<std::optional<quantd::v1::JobEvent>> WatchEvents(
    const EventStreamOpener& open, const EventCallback& on_event,
    const WatchOptions& options);

// True for the codes that mean "the stream broke, try again".
bool IsStreamBreak(const absl::Status& status);

}  // namespace quantd::client
