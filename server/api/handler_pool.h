// HandlerPool: named threads on which RPC handlers run their blocking part
// (model inspection, store transactions), so that gRPC's callback threads
// never wait on a disk or a lock. Serve() admits the call on the
// callback thread (CallGuard: token, role, request limits); the work then
// runs on a pool thread, which finishes the call.
//
// Bounded: `threads` run work and at most `max_queued` calls wait; a call
// beyond that, or after Stop() began, is answered UNAVAILABLE at once.
//
// Shutdown order (QuantdServer::Shutdown): grpc::Server::Shutdown() returns
// only once every call has finished, and a call queued here finishes only
// when its work runs, so the server shuts down first with the pool still
// running; then Stop() runs whatever is left and joins the threads, all
// before the server and the services the work points into are destroyed.
//
// Ownership: owns its threads; Stop() (or the destructor) joins them.
// Thread-safety: Serve() and Finish() are safe from any thread; the owner
// calls Stop().
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "grpcpp/support/server_callback.h"
#include "server/api/call_guard.h"
#include "spdlog/logger.h"

namespace quantd::api {

struct HandlerPoolOptions {
  // Thread names are "<name>-<i>", cut to the kernel's 15 characters.
  std::string name = "quantd-rpc";
  // Threads; at least 1. Default 4.
  int threads = 4;
  // Calls that may wait for a thread; at least 1. Default 1024.
  size_t max_queued = 1024;
};

class HandlerPool {
 public:
  // `guard` (borrowed) admits the calls that Serve() runs.
  HandlerPool(HandlerPoolOptions options, const CallGuard* guard,
              std::shared_ptr<spdlog::logger> log);
  ~HandlerPool() { Stop(); }
  HandlerPool(const HandlerPool&) = delete;
  HandlerPool& operator=(const HandlerPool&) = delete;

  // Queues `task` for a pool thread; UNAVAILABLE when the queue is full or
  // Stop() began. Streaming reactors post the blocking part of a message
  // and resume the stream from the task.
  [[nodiscard]] absl::Status Post(std::function<void()> task);
  // Runs `work` on a pool thread, then finishes the unary call of `context`
  // with its status (mapped by Reply(), logged as `rpc`). Returns the
  // call's reactor.
  grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context,
                                   const char* rpc,
                                   std::function<absl::Status()> work);
  // Admits the call of `rpc` ("JobService.GetJob"; `request`'s limits are
  // checked when given), then Finish()es it with `work`.
  grpc::ServerUnaryReactor* Serve(
      grpc::CallbackServerContext* context, const char* rpc,
      const google::protobuf::Message* request,
      std::function<absl::Status(const CallIdentity&)> work);
  // Runs the queued work, then joins the threads. Idempotent.
  void Stop();

 private:
  void Loop();

  const HandlerPoolOptions options_;
  const CallGuard* const guard_;
  std::shared_ptr<spdlog::logger> log_;
  // std:: rather than absl:: primitives: ThreadSanitizer sees through
  // libstdc++'s (pthread) but not through Debian's uninstrumented abseil.
  std::mutex mu_;
  std::condition_variable work_ready_;
  std::deque<std::function<void()>> queue_;  // Guarded by mu_.
  bool stopping_ = false;                    // Guarded by mu_.
  std::vector<std::thread> threads_;
};

}  // namespace quantd::api
