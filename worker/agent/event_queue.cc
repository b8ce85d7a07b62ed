#include "worker/agent/event_queue.h"

#include <algorithm>
#include <utility>

#include "worker/agent/event_mapping.h"

namespace quantd::agent {

EventQueue::EventQueue(size_t capacity)
    : capacity_(std::max<size_t>(1, capacity)) {}

void EventQueue::Push(EngineEvent event) {
  absl::MutexLock lock(&mu_);
  if (closed_) return;
  if (events_.size() >= capacity_ && !DropOldest()) {
    // Nothing older can go: a droppable newcomer is the one to lose.
    if (IsDroppable(event)) {
      ++dropped_;
      return;
    }
  }
  events_.push_back(std::move(event));
}

bool EventQueue::DropOldest() {
  for (const EngineEventType type :
       {EngineEventType::kProgress, EngineEventType::kLog}) {
    auto it = std::find_if(events_.begin(), events_.end(),
                           [type](const EngineEvent& event) {
                             return event.type == type && IsDroppable(event);
                           });
    if (it != events_.end()) {
      events_.erase(it);
      ++dropped_;
      return true;
    }
  }
  return false;
}

std::vector<EngineEvent> EventQueue::PopBatch(size_t max_events,
                                              absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !events_.empty() || closed_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  std::vector<EngineEvent> batch;
  while (!events_.empty() && batch.size() < max_events) {
    batch.push_back(std::move(events_.front()));
    events_.pop_front();
  }
  return batch;
}

void EventQueue::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

bool EventQueue::Finished() const {
  absl::MutexLock lock(&mu_);
  return closed_ && events_.empty();
}

uint64_t EventQueue::dropped() const {
  absl::MutexLock lock(&mu_);
  return dropped_;
}

size_t EventQueue::size() const {
  absl::MutexLock lock(&mu_);
  return events_.size();
}

}  // namespace quantd::agent
