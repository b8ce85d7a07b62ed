// LeaseDispatcher serves LeaseJob long-polls without holding a thread per
// waiting worker: each waiting call is a LeaseWaiter in a list, and one
// owned thread hands out leases when the scheduler says the queue changed
// (and answers empty when a waiter's wait runs out). Claims are made one at
// a time, oldest waiter first, which is all a single-writer store can do
// anyway.
//
// Thread-safety: safe from any thread. Start() starts the thread; Stop()
// answers every waiter with an empty response and joins it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/support/server_callback.h"
#include "quantd/v1/worker.pb.h"
#include "server/scheduler/scheduler.h"
#include "spdlog/logger.h"

namespace quantd::api {

class LeaseDispatcher;

// One LeaseJob call that is waiting. Owned by gRPC; deletes itself in
// OnDone().
class LeaseWaiter : public grpc::ServerUnaryReactor {
 public:
  // `on_lease`, when set, is told the id of a job leased through this call
  // (for the audit log) just before the call finishes.
  LeaseWaiter(LeaseDispatcher* dispatcher,
              quantd::v1::LeaseJobResponse* response,
              std::function<void(const std::string&)> on_lease = {})
      : dispatcher_(dispatcher),
        response_(response),
        on_lease_(std::move(on_lease)) {}
  void Deliver(std::optional<quantd::v1::Lease> lease);
  void OnCancel() override;
  void OnDone() override { delete this; }
  void set_id(uint64_t id) { id_ = id; }

 private:
  LeaseDispatcher* const dispatcher_;
  quantd::v1::LeaseJobResponse* const response_;
  const std::function<void(const std::string&)> on_lease_;
  uint64_t id_ = 0;
};

class LeaseDispatcher {
 public:
  LeaseDispatcher(scheduler::Scheduler* scheduler,
                  std::shared_ptr<spdlog::logger> log)
      : scheduler_(scheduler), log_(std::move(log)) {}
  ~LeaseDispatcher() { Stop(); }

  void Start();
  void Stop();

  // Adds a waiter for `worker_id` until `deadline`; the dispatcher finishes
  // it (with a lease, empty, or an error).
  void Add(LeaseWaiter* waiter, std::string worker_id, absl::Time deadline);
  // Takes a waiter out; true when it was still waiting (the caller must
  // then finish it itself).
  bool Remove(uint64_t id);
  // The queue may hold a claimable job.
  void Notify();

 private:
  struct Waiter {
    LeaseWaiter* reactor;
    std::string worker_id;
    absl::Time deadline;
  };
  void Run();
  // Tries a lease for every waiter, oldest first.
  void Dispatch();
  void ExpireWaiters(absl::Time now);

  scheduler::Scheduler* const scheduler_;
  std::shared_ptr<spdlog::logger> log_;
  absl::Mutex mu_;
  std::map<uint64_t, Waiter> waiters_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool notified_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace quantd::api
