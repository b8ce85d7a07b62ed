// EventQueue: the bounded hand-off between the thread that reads the
// engine's pipe and the thread that reports to the scheduler. Push() never
// blocks, so a slow scheduler can never stall the engine on a full pipe.
// When the queue is full the oldest droppable event (progress first, then
// debug/info logs; see IsDroppable) makes room; an event that must arrive
// (state, file, result, error, warning) is always queued, so the bound can
// be exceeded only by those, which an engine emits a handful of.
//
// Thread-safety: safe for one producer and any number of consumers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "worker/agent/engine_event.h"

namespace quantd::agent {

class EventQueue {
 public:
  // `capacity` >= 1: events held before droppable ones are discarded.
  explicit EventQueue(size_t capacity);

  // Never blocks. Ignored after Close().
  void Push(EngineEvent event);
  // Waits up to `timeout` for an event, then returns up to `max_events`,
  // oldest first. Empty on timeout, or at once when closed and empty.
  std::vector<EngineEvent> PopBatch(size_t max_events, absl::Duration timeout);
  // No more events will be pushed; consumers drain what is left.
  void Close();
  // Closed and nothing left to pop.
  bool Finished() const;
  // Events discarded to honour the bound.
  uint64_t dropped() const;
  size_t size() const;

 private:
  // Removes the oldest droppable event; false when there is none.
  bool DropOldest() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<EngineEvent> events_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace quantd::agent
