// CallCanceller: a set of in-flight gRPC calls that can be cut short
// together, e.g. the lease long poll when the worker shuts down, or a job's
// uploads when the job is cancelled. Once CancelAll() has run, every call
// that registers later is cancelled at once.
//
// Thread-safety: safe to use from any thread.
#pragma once

#include <set>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/client_context.h"

namespace quantd::agent {

class CallCanceller {
 public:
  void CancelAll();
  bool cancelled() const;

  // Registers `context` for CancelAll() while the scope lives. The context
  // must outlive the scope.
  class Scope {
   public:
    Scope(CallCanceller& canceller, grpc::ClientContext& context);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    CallCanceller& canceller_;
    grpc::ClientContext& context_;
  };

 private:
  mutable absl::Mutex mu_;
  std::set<grpc::ClientContext*> in_flight_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace quantd::agent
