// The WatchJob stream: a job's stored events after the client's sequence
// number, then live ones, ending after the terminal event. It holds no
// thread while idle. Live events arrive through the EventHub into a bounded
// buffer; when the buffer overflows (a slow client) the reactor drops it and
// re-reads the store from its position on the next write completion, so a
// watcher never slows the scheduler and never sees a gap or a duplicate.
//
// Its store reads (the opening check that the caller may see the job, and
// every catch-up read) run on a HandlerPool thread, never on a gRPC callback
// thread.
//
// Ownership: gRPC owns the reactor; it deletes itself in OnDone().
// Thread-safety: internal, under mu_.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/support/server_callback.h"
#include "quantd/v1/jobs.pb.h"
#include "server/api/event_hub.h"
#include "server/api/handler_pool.h"
#include "server/scheduler/scheduler.h"
#include "spdlog/logger.h"

namespace quantd::api {

struct WatchOptions {
  // Live events buffered per watcher before it falls back to the store.
  size_t buffer_events = 256;
  // Events read from the store at once.
  uint32_t read_batch = 128;
};

// Where a watch starts, decided on the pool: the sequence after which
// events are sent, nullopt when nothing more will come (the terminal event
// was delivered), or the error the call ends with.
using WatchOpening = std::function<absl::StatusOr<std::optional<uint64_t>>()>;

class WatchReactor : public grpc::ServerWriteReactor<quantd::v1::JobEvent>,
                     public EventSubscriber {
 public:
  // Runs `opening` on `pool`, then streams from where it says.
  WatchReactor(grpc::CallbackServerContext* context, spdlog::logger* log,
               scheduler::Scheduler* scheduler, EventHub* hub,
               HandlerPool* pool, WatchOptions options, std::string job_id,
               WatchOpening opening);

  void OnEvents(const std::vector<quantd::v1::JobEvent>& events) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  enum class Action { kNone, kWrite, kRead, kFinishOk, kFinishCancelled };
  // Takes the next actions (write, re-read, finish) unless another party
  // (a write in flight, a store read) holds the turn.
  void Pump();
  Action DecideLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Appends events that continue the sequence; returns false on overflow.
  bool AcceptLocked(const quantd::v1::JobEvent& event)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Open(const WatchOpening& opening);
  // Reads the store after last_accepted_ into the buffer, then pumps on.
  void ReadAndPump();
  grpc::Status ReadStore();
  // Ends the call with `status` unless it already ended.
  void End(const grpc::Status& status);

  grpc::CallbackServerContext* const context_;
  spdlog::logger* const log_;
  scheduler::Scheduler* const scheduler_;
  EventHub* const hub_;
  HandlerPool* const pool_;
  const WatchOptions options_;
  const std::string job_id_;

  absl::Mutex mu_;
  // Sequence of the newest event written or buffered.
  uint64_t last_accepted_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<quantd::v1::JobEvent> buffer_ ABSL_GUARDED_BY(mu_);
  // Events that arrived ahead of a missing one (concurrent commits publish
  // out of order), by sequence.
  std::map<uint64_t, quantd::v1::JobEvent> ahead_ ABSL_GUARDED_BY(mu_);
  // The store holds events the buffer dropped.
  bool behind_ ABSL_GUARDED_BY(mu_) = true;
  // Events were published while behind_: read the store again.
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;
  // Only the party that set writing_ or reading_ may act; the other waits.
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // The opening holds the turn until the stream starts.
  bool reading_ ABSL_GUARDED_BY(mu_) = true;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool terminal_written_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  // The message being written; stable until OnWriteDone.
  quantd::v1::JobEvent in_flight_;
};

}  // namespace quantd::api
