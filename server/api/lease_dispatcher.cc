#include "server/api/lease_dispatcher.h"

#include <vector>

#include "server/api/status_mapping.h"

namespace quantd::api {

void LeaseWaiter::Deliver(std::optional<quantd::v1::Lease> lease) {
  if (lease.has_value()) {
    if (on_lease_) on_lease_(lease->job().id());
    *response_->mutable_lease() = std::move(*lease);
  }
  Finish(grpc::Status::OK);
}

void LeaseWaiter::OnCancel() {
  if (dispatcher_->Remove(id_)) Finish(grpc::Status::CANCELLED);
}

void LeaseDispatcher::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Run(); });
}

void LeaseDispatcher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  std::map<uint64_t, Waiter> left;
  {
    absl::MutexLock lock(&mu_);
    left.swap(waiters_);
  }
  log_->info("answering {} long-polls at shutdown", left.size());
  for (auto& [id, waiter] : left) waiter.reactor->Deliver(std::nullopt);
}

void LeaseDispatcher::Add(LeaseWaiter* waiter, std::string worker_id,
                          absl::Time deadline) {
  bool stopping;
  {
    absl::MutexLock lock(&mu_);
    stopping = stopping_;
    if (!stopping) {
      const uint64_t id = next_id_++;
      waiter->set_id(id);
      waiters_.emplace(id, Waiter{waiter, std::move(worker_id), deadline});
      notified_ = true;  // Try the newcomer at once.
    }
  }
  if (stopping) waiter->Deliver(std::nullopt);
}

bool LeaseDispatcher::Remove(uint64_t id) {
  absl::MutexLock lock(&mu_);
  return waiters_.erase(id) > 0;
}

void LeaseDispatcher::Notify() {
  absl::MutexLock lock(&mu_);
  notified_ = true;
}

void LeaseDispatcher::Run() {
  while (true) {
    absl::Time next_deadline = absl::InfiniteFuture();
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [id, waiter] : waiters_) {
        next_deadline = std::min(next_deadline, waiter.deadline);
      }
      // Wake on a notification, at the earliest deadline, or every 100 ms
      // to notice Stop().
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return notified_ || stopping_;
      };
      mu_.AwaitWithDeadline(
          absl::Condition(&ready),
          std::min(next_deadline, absl::Now() + absl::Milliseconds(100)));
      if (stopping_) return;
    }
    ExpireWaiters(absl::Now());
    bool notified;
    {
      absl::MutexLock lock(&mu_);
      notified = notified_;
      notified_ = false;
    }
    if (notified) Dispatch();
  }
}

void LeaseDispatcher::ExpireWaiters(absl::Time now) {
  std::vector<LeaseWaiter*> expired;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->second.deadline > now) {
        ++it;
        continue;
      }
      expired.push_back(it->second.reactor);
      it = waiters_.erase(it);
    }
  }
  for (LeaseWaiter* waiter : expired) waiter->Deliver(std::nullopt);
}

void LeaseDispatcher::Dispatch() {
  std::vector<std::pair<uint64_t, std::string>> snapshot;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, waiter] : waiters_) {
      snapshot.emplace_back(id, waiter.worker_id);
    }
  }
  for (const auto& [id, worker_id] : snapshot) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_ || waiters_.count(id) == 0) continue;
    }
    auto lease = scheduler_->TryLease(worker_id);
    if (lease.ok() && !lease->has_value()) continue;
    LeaseWaiter* reactor = nullptr;
    {
      absl::MutexLock lock(&mu_);
      auto it = waiters_.find(id);
      if (it != waiters_.end()) {
        reactor = it->second.reactor;
        waiters_.erase(it);
      }
    }
    if (reactor == nullptr) {
      // The worker hung up while its lease was being granted: give the job
      // back without using an attempt.
      if (lease.ok()) {
        quantd::v1::CompleteJobRequest release;
        release.set_job_id((*lease)->job().id());
        release.set_fencing_token((*lease)->fencing_token());
        release.set_release(true);
        if (!scheduler_->Complete(release).ok()) {
          log_->warn("job={} could not release an undelivered lease",
                     (*lease)->job().id());
        }
      }
      continue;
    }
    if (!lease.ok()) {
      reactor->Finish(ToGrpcStatus(lease.status()));
      continue;
    }
    reactor->Deliver(std::move(*lease));
  }
}

}  // namespace quantd::api
