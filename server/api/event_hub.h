// EventHub fans committed job events out to the watchers of each job.
// Publishing never blocks on a watcher: a subscriber only copies what fits
// into its own bounded buffer and re-reads the store when it falls behind.
//
// Thread-safety: safe from any thread. Subscribers are borrowed; after
// Unsubscribe() returns, the hub never touches that subscriber again.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "quantd/v1/types.pb.h"

namespace quantd::api {

class EventSubscriber {
 public:
  virtual ~EventSubscriber() = default;
  // Called with the hub's lock held: must not block and must not call back
  // into the hub.
  virtual void OnEvents(const std::vector<quantd::v1::JobEvent>& events) = 0;
};

class EventHub {
 public:
  void Subscribe(const std::string& job_id, EventSubscriber* subscriber);
  void Unsubscribe(const std::string& job_id, EventSubscriber* subscriber);
  void Publish(const std::string& job_id,
               const std::vector<quantd::v1::JobEvent>& events);
  size_t SubscriberCount() const;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::set<EventSubscriber*>> subscribers_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace quantd::api
