#include "worker/agent/call_canceller.h"

namespace quantd::agent {

void CallCanceller::CancelAll() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  for (grpc::ClientContext* context : in_flight_) context->TryCancel();
}

bool CallCanceller::cancelled() const {
  absl::MutexLock lock(&mu_);
  return cancelled_;
}

CallCanceller::Scope::Scope(CallCanceller& canceller,
                            grpc::ClientContext& context)
    : canceller_(canceller), context_(context) {
  absl::MutexLock lock(&canceller_.mu_);
  canceller_.in_flight_.insert(&context_);
  if (canceller_.cancelled_) context_.TryCancel();
}

CallCanceller::Scope::~Scope() {
  absl::MutexLock lock(&canceller_.mu_);
  canceller_.in_flight_.erase(&context_);
}

}  // namespace quantd::agent
