#include "server/api/watch_reactor.h"

#include <utility>

#include "server/api/status_mapping.h"

namespace quantd::api {

WatchReactor::WatchReactor(grpc::CallbackServerContext* context,
                           spdlog::logger* log, scheduler::Scheduler* scheduler,
                           EventHub* hub, HandlerPool* pool,
                           WatchOptions options, std::string job_id,
                           WatchOpening opening)
    : context_(context),
      log_(log),
      scheduler_(scheduler),
      hub_(hub),
      pool_(pool),
      options_(options),
      job_id_(std::move(job_id)) {
  const absl::Status posted =
      pool_->Post([this, opening = std::move(opening)] { Open(opening); });
  if (!posted.ok()) End(Reply(context_, posted, *log_, "WatchJob"));
}

void WatchReactor::Open(const WatchOpening& opening) {
  const absl::StatusOr<std::optional<uint64_t>> start = opening();
  if (!start.ok()) {
    End(Reply(context_, start.status(), *log_, "WatchJob"));
    return;
  }
  if (!start->has_value()) {
    End(grpc::Status::OK);
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    last_accepted_ = **start;
  }
  // Subscribe before the first store read so no event committed in between
  // is missed; duplicates are dropped by sequence number. The opening still
  // holds the turn (reading_), so the first read is this thread's.
  hub_->Subscribe(job_id_, this);
  ReadAndPump();
}

void WatchReactor::End(const grpc::Status& status) {
  {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    finished_ = true;
    reading_ = false;
  }
  Finish(status);
}

bool WatchReactor::AcceptLocked(const quantd::v1::JobEvent& event) {
  if (event.sequence() <= last_accepted_) return true;
  if (event.sequence() > last_accepted_ + 1) {
    if (ahead_.size() >= options_.buffer_events) return false;
    ahead_.emplace(event.sequence(), event);
    return true;
  }
  if (buffer_.size() >= options_.buffer_events) return false;
  buffer_.push_back(event);
  last_accepted_ = event.sequence();
  // Events that were waiting for this one now continue the sequence.
  for (auto it = ahead_.begin();
       it != ahead_.end() && it->first <= last_accepted_ + 1;
       it = ahead_.erase(it)) {
    if (it->first == last_accepted_ + 1) {
      if (buffer_.size() >= options_.buffer_events) return false;
      buffer_.push_back(std::move(it->second));
      last_accepted_ = it->first;
    }
  }
  return true;
}

void WatchReactor::OnEvents(const std::vector<quantd::v1::JobEvent>& events) {
  {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    if (behind_) {
      dirty_ = true;
      return;
    }
    for (const quantd::v1::JobEvent& event : events) {
      if (!AcceptLocked(event)) {
        // Too slow: forget the live copies and catch up from the store.
        behind_ = true;
        ahead_.clear();
        break;
      }
    }
  }
  Pump();
}

WatchReactor::Action WatchReactor::DecideLocked() {
  if (writing_ || reading_ || finished_) return Action::kNone;
  if (cancelled_ || terminal_written_) {
    finished_ = true;
    return cancelled_ ? Action::kFinishCancelled : Action::kFinishOk;
  }
  if (!buffer_.empty()) {
    in_flight_ = std::move(buffer_.front());
    buffer_.pop_front();
    terminal_written_ = in_flight_.has_terminal();
    writing_ = true;
    return Action::kWrite;
  }
  if (!behind_) return Action::kNone;  // Idle until the hub delivers more.
  reading_ = true;
  dirty_ = false;
  return Action::kRead;
}

void WatchReactor::Pump() {
  while (true) {
    Action action;
    {
      absl::MutexLock lock(&mu_);
      action = DecideLocked();
    }
    // Decided under the lock, acted on outside it: a reaction may run on
    // this thread.
    switch (action) {
      case Action::kNone:
        return;
      case Action::kWrite:
        StartWrite(&in_flight_);
        return;
      case Action::kFinishOk:
        Finish(grpc::Status::OK);
        return;
      case Action::kFinishCancelled:
        Finish(grpc::Status::CANCELLED);
        return;
      case Action::kRead: {
        const absl::Status posted = pool_->Post([this] { ReadAndPump(); });
        if (!posted.ok()) End(ToGrpcStatus(posted));
        return;
      }
    }
  }
}

void WatchReactor::ReadAndPump() {
  const grpc::Status status = ReadStore();
  if (!status.ok()) {
    End(status);
    return;
  }
  Pump();
}

grpc::Status WatchReactor::ReadStore() {
  uint64_t from;
  {
    absl::MutexLock lock(&mu_);
    from = last_accepted_;
  }
  auto batch = scheduler_->ReadEvents(job_id_, from, options_.read_batch);
  absl::MutexLock lock(&mu_);
  reading_ = false;
  if (!batch.ok()) return ToGrpcStatus(batch.status());
  for (quantd::v1::JobEvent& event : batch->events) {
    if (event.sequence() != last_accepted_ + 1) continue;
    buffer_.push_back(std::move(event));
    last_accepted_ = buffer_.back().sequence();
  }
  while (!ahead_.empty() && ahead_.begin()->first <= last_accepted_) {
    ahead_.erase(ahead_.begin());
  }
  behind_ = dirty_ || batch->events.size() == options_.read_batch;
  return grpc::Status::OK;
}

void WatchReactor::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) cancelled_ = true;  // The client went away.
  }
  Pump();
}

void WatchReactor::OnCancel() {
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }
  Pump();
}

void WatchReactor::OnDone() {
  hub_->Unsubscribe(job_id_, this);
  delete this;
}

}  // namespace quantd::api
