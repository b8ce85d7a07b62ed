#include "client/quantctl/event_watcher.h"

#include <algorithm>

namespace quantd::client {

bool IsStreamBreak(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kInternal:  // e.g. RST_STREAM from a proxy
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDeadlineExceeded:
      return true;
    default:
      return false;
  }
}

absl::StatusOr<std::optional<quantd::v1::JobEvent>> WatchEvents(
    const EventStreamOpener& open, const EventCallback& on_event,
    const WatchOptions& options) {
  uint64_t last_sequence = options.after_sequence;
  absl::Duration backoff = options.initial_backoff;
  int fruitless = 0;
  while (true) {
    std::unique_ptr<EventStream> stream = open(last_sequence);
    bool delivered = false;
    quantd::v1::JobEvent event;
    while (stream->Read(&event)) {
      // A server may replay from an older point after a reconnect: skip
      // what was already delivered.
      if (event.sequence() <= last_sequence) continue;
      last_sequence = event.sequence();
      delivered = true;
      const bool keep_going = on_event(event);
      if (event.has_terminal()) return std::optional(event);
      if (!keep_going) return std::optional<quantd::v1::JobEvent>();
    }
    absl::Status status = stream->Finish();
    if (status.ok()) {
      status = absl::UnavailableError(
          "the event stream ended before the job's terminal event");
    }
    if (!IsStreamBreak(status)) return status;
    if (delivered) {
      fruitless = 0;
      backoff = options.initial_backoff;
    }
    if (++fruitless > options.max_reconnects) return status;
    if (options.on_reconnect) options.on_reconnect(status, last_sequence);
    options.sleep(backoff);
    backoff = std::min(backoff * 2, options.max_backoff);
  }
}

}  // namespace quantd::client
