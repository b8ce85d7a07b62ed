#include "client/quantctl/event_watcher.h"

#include <deque>
#include <vector>

#include "gtest/gtest.h"

namespace quantd::client {
namespace {

quantd::v1::JobEvent Event(uint64_t sequence, bool terminal = false) {
  quantd::v1::JobEvent event;
  event.set_sequence(sequence);
  if (terminal) {
    event.mutable_terminal()->set_state(quantd::v1::JOB_STATE_SUCCEEDED);
  } else {
    event.mutable_progress()->set_stage("quantize");
  }
  return event;
}

// A stream that serves a fixed list of events, then ends with `end`.
class FakeStream : public EventStream {
 public:
  FakeStream(std::vector<quantd::v1::JobEvent> events, absl::Status end)
      : events_(events.begin(), events.end()), end_(std::move(end)) {}
  bool Read(quantd::v1::JobEvent* event) override {
    if (events_.empty()) return false;
    *event = events_.front();
    events_.pop_front();
    return true;
  }
  absl::Status Finish() override { return end_; }

 private:
  std::deque<quantd::v1::JobEvent> events_;
  absl::Status end_;
};

// A server holding events 1..count (the last terminal) whose streams break
// after `per_stream` events each; records every resume point.
struct DroppingServer {
  uint64_t count = 0;
  size_t per_stream = 0;
  // Replays this many already-seen events after a reconnect.
  uint64_t replay = 0;
  std::vector<uint64_t> opened_after;

  std::unique_ptr<EventStream> Open(uint64_t after) {
    opened_after.push_back(after);
    std::vector<quantd::v1::JobEvent> events;
    for (uint64_t s = after + 1 - std::min(after, replay);
         s <= count && events.size() < per_stream; ++s) {
      events.push_back(Event(s, s == count));
    }
    return std::make_unique<FakeStream>(
        events, absl::UnavailableError("connection reset"));
  }
};

WatchOptions NoSleep() {
  WatchOptions options;
  options.sleep = [](absl::Duration) {};
  return options;
}

TEST(EventWatcherTest, ResumesAfterDropsWithoutGapsOrDuplicates) {
  DroppingServer server{.count = 10, .per_stream = 3, .replay = 2};
  std::vector<uint64_t> seen;
  const auto terminal =
      WatchEvents([&](uint64_t after) { return server.Open(after); },
                  [&](const quantd::v1::JobEvent& event) {
                    seen.push_back(event.sequence());
                    return true;
                  },
                  NoSleep());
  ASSERT_TRUE(terminal.ok()) << terminal.status();
  ASSERT_TRUE(terminal->has_value());
  EXPECT_EQ((*terminal)->sequence(), 10u);
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(server.opened_after.front(), 0u);
  EXPECT_EQ(server.opened_after[1], 3u);
}

TEST(EventWatcherTest, StartsAfterTheGivenSequence) {
  DroppingServer server{.count = 5, .per_stream = 10};
  WatchOptions options = NoSleep();
  options.after_sequence = 3;
  std::vector<uint64_t> seen;
  ASSERT_TRUE(WatchEvents([&](uint64_t after) { return server.Open(after); },
                          [&](const quantd::v1::JobEvent& event) {
                            seen.push_back(event.sequence());
                            return true;
                          },
                          options)
                  .ok());
  EXPECT_EQ(seen, (std::vector<uint64_t>{4, 5}));
}

TEST(EventWatcherTest, GivesUpAfterFruitlessReconnectsWithBackoff) {
  std::vector<absl::Duration> sleeps;
  int reconnects = 0;
  WatchOptions options;
  options.max_reconnects = 3;
  options.sleep = [&](absl::Duration d) { sleeps.push_back(d); };
  options.on_reconnect = [&](const absl::Status&, uint64_t) { ++reconnects; };
  const auto result = WatchEvents(
      [](uint64_t) {
        return std::make_unique<FakeStream>(std::vector<quantd::v1::JobEvent>{},
                                            absl::UnavailableError("down"));
      },
      [](const quantd::v1::JobEvent&) { return true; }, options);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(reconnects, 3);
  EXPECT_EQ(sleeps, (std::vector<absl::Duration>{absl::Milliseconds(200),
                                                 absl::Milliseconds(400),
                                                 absl::Milliseconds(800)}));
}

TEST(EventWatcherTest, PermanentErrorsEndTheWatchAtOnce) {
  int opened = 0;
  const auto result = WatchEvents(
      [&](uint64_t) {
        ++opened;
        return std::make_unique<FakeStream>(
            std::vector<quantd::v1::JobEvent>{},
            absl::NotFoundError("job j-x not found"));
      },
      [](const quantd::v1::JobEvent&) { return true; }, NoSleep());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(opened, 1);
}

TEST(EventWatcherTest, CleanEndWithoutTerminalCountsAsADrop) {
  int opened = 0;
  const auto result = WatchEvents(
      [&](uint64_t after) {
        ++opened;
        std::vector<quantd::v1::JobEvent> events;
        if (after == 0) events = {Event(1)};
        if (after == 1) events = {Event(2, /*terminal=*/true)};
        return std::make_unique<FakeStream>(events, absl::OkStatus());
      },
      [](const quantd::v1::JobEvent&) { return true; }, NoSleep());
  ASSERT_TRUE(result.ok());
  EXPECT_EQ((*result)->sequence(), 2u);
  EXPECT_EQ(opened, 2);
}

TEST(EventWatcherTest, CallbackCanStopEarly) {
  DroppingServer server{.count = 10, .per_stream = 10};
  std::vector<uint64_t> seen;
  const auto result =
      WatchEvents([&](uint64_t after) { return server.Open(after); },
                  [&](const quantd::v1::JobEvent& event) {
                    seen.push_back(event.sequence());
                    return event.sequence() < 4;
                  },
                  NoSleep());
  ASSERT_TRUE(result.ok());
  EXPECT_FALSE(result->has_value());
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3, 4}));
}

}  // namespace
}  // namespace quantd::client
