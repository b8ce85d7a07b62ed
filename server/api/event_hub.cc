#include "server/api/event_hub.h"

namespace quantd::api {

void EventHub::Subscribe(const std::string& job_id,
                         EventSubscriber* subscriber) {
  absl::MutexLock lock(&mu_);
  subscribers_[job_id].insert(subscriber);
}

void EventHub::Unsubscribe(const std::string& job_id,
                           EventSubscriber* subscriber) {
  absl::MutexLock lock(&mu_);
  auto it = subscribers_.find(job_id);
  if (it == subscribers_.end()) return;
  it->second.erase(subscriber);
  if (it->second.empty()) subscribers_.erase(it);
}

void EventHub::Publish(const std::string& job_id,
                       const std::vector<quantd::v1::JobEvent>& events) {
  absl::MutexLock lock(&mu_);
  auto it = subscribers_.find(job_id);
  if (it == subscribers_.end()) return;
  for (EventSubscriber* subscriber : it->second) subscriber->OnEvents(events);
}

size_t EventHub::SubscriberCount() const {
  absl::MutexLock lock(&mu_);
  size_t count = 0;
  for (const auto& [job, subscribers] : subscribers_)
    count += subscribers.size();
  return count;
}

}  // namespace quantd::api
