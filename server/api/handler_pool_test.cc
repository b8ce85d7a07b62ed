// HandlerPool's own concurrency, without a gRPC server (whose uninstrumented
// threads ThreadSanitizer cannot follow): this binary runs under `make tsan`.
#include "server/api/handler_pool.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "spdlog/sinks/null_sink.h"
#include "spdlog/spdlog.h"

namespace quantd::api {
namespace {

std::shared_ptr<spdlog::logger> NullLog() {
  return std::make_shared<spdlog::logger>(
      "null", std::make_shared<spdlog::sinks::null_sink_mt>());
}

TEST(HandlerPoolTest, RunsEveryTaskPostedFromManyThreadsBeforeStopReturns) {
  HandlerPool pool({"test-pool", 3, 100000}, nullptr, NullLog());
  std::atomic<int> ran = 0;
  std::mutex counted_mu;
  int counted = 0;  // Written by pool threads, read after Stop().
  std::vector<std::thread> posters;
  for (int t = 0; t < 8; ++t) {
    posters.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        ASSERT_TRUE(pool.Post([&] {
                          ran.fetch_add(1);
                          std::lock_guard<std::mutex> lock(counted_mu);
                          ++counted;
                        })
                        .ok());
      }
    });
  }
  for (std::thread& poster : posters) poster.join();
  pool.Stop();
  EXPECT_EQ(ran.load(), 8 * 500);
  // Stop() joined the threads: their writes are visible without a lock.
  EXPECT_EQ(counted, 8 * 500);
}

TEST(HandlerPoolTest, RefusesWhenFullOrStopped) {
  HandlerPool pool({"test-pool", 1, 1}, nullptr, NullLog());
  std::mutex mu;
  std::condition_variable changed;
  bool started = false;
  bool open = false;
  // The one thread runs the first task, which waits; one more fills the
  // queue; the next is refused.
  ASSERT_TRUE(pool.Post([&] {
                    std::unique_lock<std::mutex> lock(mu);
                    started = true;
                    changed.notify_all();
                    changed.wait(lock, [&] { return open; });
                  })
                  .ok());
  {
    std::unique_lock<std::mutex> lock(mu);
    changed.wait(lock, [&] { return started; });
  }
  EXPECT_TRUE(pool.Post([] {}).ok());
  EXPECT_EQ(pool.Post([] {}).code(), absl::StatusCode::kUnavailable);
  {
    std::lock_guard<std::mutex> lock(mu);
    open = true;
  }
  changed.notify_all();
  pool.Stop();
  EXPECT_EQ(pool.Post([] {}).code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace quantd::api
