// What the scheduler tells the layer above after it commits a change: new
// events of a job (for watchers) and that the queue may hold a claimable job
// (for workers long-polling LeaseJob).
#pragma once

#include <string>
#include <vector>

#include "quantd/v1/types.pb.h"

namespace quantd::scheduler {

class SchedulerListener {
 public:
  virtual ~SchedulerListener() = default;
  // Called after the events of `job_id` were committed, in sequence order
  // for one call (calls for one job may race each other). Must not block.
  virtual void OnJobEvents(const std::string& job_id,
                           const std::vector<quantd::v1::JobEvent>& events) = 0;
  // A job may have become claimable. Must not block.
  virtual void OnQueueChanged() = 0;
};

}  // namespace quantd::scheduler
