#include "worker/agent/event_queue.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::agent {
namespace {

EngineEvent Progress(uint32_t block) {
  EngineEvent event;
  event.type = EngineEventType::kProgress;
  event.progress.set_block_index(block);
  return event;
}

EngineEvent Log(const char* level, const char* message) {
  EngineEvent event;
  event.type = EngineEventType::kLog;
  event.log.set_level(level);
  event.log.set_message(message);
  return event;
}

EngineEvent Of(EngineEventType type) {
  EngineEvent event;
  event.type = type;
  return event;
}

TEST(EventQueueTest, PopsInOrderUpToTheBatchLimit) {
  EventQueue queue(10);
  for (uint32_t i = 0; i < 5; ++i) queue.Push(Progress(i));
  auto first = queue.PopBatch(3, absl::ZeroDuration());
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[0].progress.block_index(), 0u);
  EXPECT_EQ(first[2].progress.block_index(), 2u);
  auto second = queue.PopBatch(3, absl::ZeroDuration());
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second[0].progress.block_index(), 3u);
  EXPECT_TRUE(queue.PopBatch(3, absl::Milliseconds(1)).empty());
}

TEST(EventQueueTest, DropsTheOldestProgressWhenFull) {
  EventQueue queue(3);
  for (uint32_t i = 0; i < 5; ++i) queue.Push(Progress(i));
  EXPECT_EQ(queue.dropped(), 2u);
  auto batch = queue.PopBatch(10, absl::ZeroDuration());
  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(batch[0].progress.block_index(), 2u);
  EXPECT_EQ(batch[2].progress.block_index(), 4u);
}

TEST(EventQueueTest, DropsProgressBeforeLogs) {
  EventQueue queue(2);
  queue.Push(Log("info", "first"));
  queue.Push(Progress(1));
  queue.Push(Progress(2));
  auto batch = queue.PopBatch(10, absl::ZeroDuration());
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0].log.message(), "first");
  EXPECT_EQ(batch[1].progress.block_index(), 2u);
}

TEST(EventQueueTest, NeverDropsEventsThatMustArrive) {
  EventQueue queue(2);
  const EngineEventType kept[] = {
      EngineEventType::kState, EngineEventType::kCheckpoint,
      EngineEventType::kArtifact, EngineEventType::kResult,
      EngineEventType::kError};
  for (EngineEventType type : kept) queue.Push(Of(type));
  queue.Push(Log("warn", "disk almost full"));
  // Nothing droppable is queued: a droppable newcomer is the one lost.
  queue.Push(Progress(9));
  EXPECT_EQ(queue.dropped(), 1u);
  auto batch = queue.PopBatch(100, absl::ZeroDuration());
  ASSERT_EQ(batch.size(), 6u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(batch[i].type, kept[i]);
  EXPECT_EQ(batch[5].log.message(), "disk almost full");
}

TEST(EventQueueTest, PushNeverBlocksAndHonoursTheBound) {
  EventQueue queue(64);
  for (uint32_t i = 0; i < 100000; ++i) queue.Push(Progress(i));
  EXPECT_EQ(queue.size(), 64u);
  EXPECT_EQ(queue.dropped(), 100000u - 64u);
}

TEST(EventQueueTest, CloseDrainsThenFinishes) {
  EventQueue queue(4);
  queue.Push(Progress(1));
  queue.Close();
  queue.Push(Progress(2));  // Ignored after Close().
  EXPECT_FALSE(queue.Finished());
  EXPECT_EQ(queue.PopBatch(10, absl::Seconds(10)).size(), 1u);
  EXPECT_TRUE(queue.Finished());
  // Closed and empty: returns at once instead of waiting.
  EXPECT_TRUE(queue.PopBatch(10, absl::Hours(1)).empty());
}

}  // namespace
}  // namespace quantd::agent
