#include "server/api/handler_pool.h"

#include <pthread.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/api/status_mapping.h"

namespace quantd::api {
namespace {

// Linux keeps 15 characters of a thread's name.
constexpr size_t kMaxThreadNameChars = 15;

}  // namespace

HandlerPool::HandlerPool(HandlerPoolOptions options, const CallGuard* guard,
                         std::shared_ptr<spdlog::logger> log)
    : options_(std::move(options)), guard_(guard), log_(std::move(log)) {
  for (int i = 0; i < std::max(options_.threads, 1); ++i) {
    threads_.emplace_back([this, i] {
      const std::string name = absl::StrCat(options_.name, "-", i);
      pthread_setname_np(pthread_self(),
                         name.substr(0, kMaxThreadNameChars).c_str());
      Loop();
    });
  }
}

absl::Status HandlerPool::Post(std::function<void()> task) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_ || queue_.size() >= std::max<size_t>(options_.max_queued, 1)) {
    return absl::UnavailableError("the server is busy or shutting down; retry");
  }
  queue_.push_back(std::move(task));
  work_ready_.notify_one();
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* HandlerPool::Finish(
    grpc::CallbackServerContext* context, const char* rpc,
    std::function<absl::Status()> work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::Status posted =
      Post([this, context, reactor, rpc, work = std::move(work)] {
        reactor->Finish(Reply(context, work(), *log_, rpc));
      });
  if (!posted.ok()) reactor->Finish(Reply(context, posted, *log_, rpc));
  return reactor;
}

grpc::ServerUnaryReactor* HandlerPool::Serve(
    grpc::CallbackServerContext* context, const char* rpc,
    const google::protobuf::Message* request,
    std::function<absl::Status(const CallIdentity&)> work) {
  auto who = guard_->Admit(context, rpc, request);
  if (!who.ok()) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(Reply(context, who.status(), *log_, rpc));
    return reactor;
  }
  return Finish(context, rpc,
                [work = std::move(work), who = *who] { return work(who); });
}

void HandlerPool::Loop() {
  while (true) {
    std::function<void()> work;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to run
      work = std::move(queue_.front());
      queue_.pop_front();
    }
    work();
  }
}

void HandlerPool::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    work_ready_.notify_all();
  }
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

}  // namespace quantd::api
