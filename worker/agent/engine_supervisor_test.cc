#include "worker/agent/engine_supervisor.h"

#include <signal.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/agent/engine_event.h"
#include "worker/agent/text_tail.h"

namespace quantd::agent {
namespace {

using ::testing::HasSubstr;

std::string FakeEngine() {
  const char* source = std::getenv("QUANTD_SOURCE_DIR");
  return std::string(source != nullptr ? source : ".") +
         "/worker/agent/testdata/fake_engine.py";
}

bool ProcessExists(pid_t pid) { return ::kill(pid, 0) == 0; }

class EngineSupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(BecomeChildSubreaper().ok());
    std::string pattern = ::testing::TempDir() + "/supervisor-XXXXXX";
    dir_ = mkdtemp(pattern.data());
    std::ofstream(dir_ + "/spec.json") << "{}";
  }

  void TearDown() override { std::filesystem::remove_all(dir_); }

  SupervisorOptions Options(const std::string& scenario) {
    SupervisorOptions options;
    options.spawn.argv = {FakeEngine(), "run",        dir_ + "/spec.json",
                          "--out",      dir_,         "--events-fd",
                          "3",          "--scenario", scenario};
    options.spawn.pipe_child_fd = 3;
    options.spawn.output_path = log_path();
    options.poll_interval = absl::Milliseconds(20);
    return options;
  }

  std::string log_path() const { return dir_ + "/engine.log"; }

  // Runs to the end, parsing every line; fails the test on a bad line.
  absl::StatusOr<ExitStatus> RunCollecting(EngineSupervisor& supervisor) {
    return supervisor.Run([this](const Line& line) {
      auto event = ParseEngineEvent(line.text);
      ASSERT_TRUE(event.ok()) << line.text << ": " << event.status();
      absl::MutexLock lock(&mu_);
      events_.push_back(*std::move(event));
    });
  }

  // The first log message containing `prefix`, from the value after it.
  int64_t LoggedNumber(const std::string& prefix) {
    absl::MutexLock lock(&mu_);
    for (const EngineEvent& event : events_) {
      const std::string& message = event.log.message();
      const size_t at = message.find(prefix);
      if (event.type != EngineEventType::kLog || at == std::string::npos) {
        continue;
      }
      std::string digits = message.substr(at + prefix.size());
      digits = digits.substr(0, digits.find(' '));
      int64_t value = -1;
      if (absl::SimpleAtoi(digits, &value)) return value;
    }
    return -1;
  }

  bool SawType(EngineEventType type) {
    absl::MutexLock lock(&mu_);
    for (const EngineEvent& event : events_) {
      if (event.type == type) return true;
    }
    return false;
  }

  std::string dir_;
  absl::Mutex mu_;
  std::vector<EngineEvent> events_;
};

TEST_F(EngineSupervisorTest, RunsTheEngineAndDeliversItsEventsInOrder) {
  EngineSupervisor supervisor(Options("succeed"));
  auto exit = RunCollecting(supervisor);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->Succeeded()) << exit->Describe();
  ASSERT_GE(events_.size(), 10u);
  EXPECT_EQ(events_.front().type, EngineEventType::kState);
  EXPECT_EQ(events_.back().type, EngineEventType::kResult);
  int blocks = 0;
  for (const EngineEvent& event : events_) {
    if (event.type == EngineEventType::kProgress &&
        event.progress.stage() == "quantize") {
      EXPECT_EQ(event.progress.block_index(), static_cast<uint32_t>(blocks));
      ++blocks;
    }
  }
  EXPECT_EQ(blocks, 3);
  EXPECT_THAT(TailLines(log_path(), 5, 4096), HasSubstr("scenario=succeed"));
  EXPECT_FALSE(ProcessGroupExists(*supervisor.pgid()));
}

TEST_F(EngineSupervisorTest, ReportsExitStatusesAndCrashes) {
  struct Case {
    const char* scenario;
    int status;
  };
  for (const Case& c : {Case{"invalid", 2}, Case{"fail", 3}, Case{"oom", 4},
                        Case{"crash", 128 + SIGSEGV}}) {
    EngineSupervisor supervisor(Options(c.scenario));
    auto exit = RunCollecting(supervisor);
    ASSERT_TRUE(exit.ok()) << exit.status();
    EXPECT_EQ(exit->AsInt(), c.status) << c.scenario;
  }
  EXPECT_TRUE(SawType(EngineEventType::kError));
  EXPECT_THAT(TailLines(log_path(), 3, 4096), HasSubstr("about to crash"));
}

TEST_F(EngineSupervisorTest, TerminateStopsAnEngineThatHonoursSigterm) {
  EngineSupervisor supervisor(Options("hang"));
  std::thread stopper([&] {
    while (!SawType(EngineEventType::kCheckpoint)) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    supervisor.Terminate(absl::Seconds(60));
  });
  auto exit = RunCollecting(supervisor);
  stopper.join();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_FALSE(exit->signaled);
  EXPECT_EQ(exit->AsInt(), 143);
  EXPECT_FALSE(ProcessGroupExists(*supervisor.pgid()));
}

TEST_F(EngineSupervisorTest, KillsTheWholeGroupWhenSigtermIsIgnored) {
  EngineSupervisor supervisor(Options("stubborn"));
  std::thread stopper([&] {
    while (LoggedNumber("grandchild=") < 0) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    supervisor.Terminate(absl::Milliseconds(300));
  });
  auto exit = RunCollecting(supervisor);
  stopper.join();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->signaled);
  EXPECT_EQ(exit->signal, SIGKILL);
  const pid_t grandchild = static_cast<pid_t>(LoggedNumber("grandchild="));
  const pid_t engine = static_cast<pid_t>(LoggedNumber("pid="));
  ASSERT_GT(grandchild, 0);
  EXPECT_EQ(engine, *supervisor.pgid());
  EXPECT_FALSE(ProcessExists(grandchild));
  EXPECT_FALSE(ProcessExists(engine));
  EXPECT_FALSE(ProcessGroupExists(*supervisor.pgid()));
}

TEST_F(EngineSupervisorTest, AChildToldToDieWithItsParentDoes) {
  // The kernel's "parent" is the spawning thread: when it ends, as when the
  // whole worker is killed, the child gets SIGKILL.
  for (const bool kill_with_parent : {true, false}) {
    SpawnOptions spawn;
    spawn.argv = {"sleep", "30"};
    spawn.kill_with_parent = kill_with_parent;
    absl::StatusOr<std::unique_ptr<ChildProcess>> child;
    std::thread([&] { child = ChildProcess::Spawn(spawn); }).join();
    ASSERT_TRUE(child.ok()) << child.status();
    if (kill_with_parent) {
      const ExitStatus exit = (*child)->Wait();
      EXPECT_TRUE(exit.signaled);
      EXPECT_EQ(exit.signal, SIGKILL);
    } else {
      EXPECT_FALSE((*child)->TryWait().has_value());
      EXPECT_TRUE(ProcessExists((*child)->pid()));
    }
  }
}

TEST_F(EngineSupervisorTest, AStopBeforeTheStartSpawnsNothing) {
  EngineSupervisor supervisor(Options("succeed"));
  supervisor.Kill();
  auto exit = RunCollecting(supervisor);
  EXPECT_EQ(exit.status().code(), absl::StatusCode::kCancelled);
  EXPECT_FALSE(supervisor.pgid().has_value());
  EXPECT_TRUE(events_.empty());
}

TEST_F(EngineSupervisorTest, AppliesResourceLimitsInTheChild) {
  SupervisorOptions options = Options("no_result");
  options.spawn.max_open_files = 123;
  EngineSupervisor supervisor(options);
  auto exit = RunCollecting(supervisor);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(LoggedNumber("nofile="), 123);
}

TEST_F(EngineSupervisorTest, FailsClearlyWhenTheEngineCannotRun) {
  SupervisorOptions options = Options("succeed");
  options.spawn.argv[0] = dir_ + "/no-such-engine";
  EngineSupervisor supervisor(options);
  auto exit = RunCollecting(supervisor);
  ASSERT_FALSE(exit.ok());
  EXPECT_THAT(std::string(exit.status().message()),
              HasSubstr("cannot execute " + dir_ + "/no-such-engine"));
}

TEST_F(EngineSupervisorTest, CutsOverlongLinesAndKeepsReading) {
  SupervisorOptions options;
  options.spawn.argv = {"sh", "-c",
                        "head -c 5000 /dev/zero | tr '\\0' a; echo; "
                        "echo after; printf tail"};
  options.spawn.pipe_child_fd = 1;
  options.max_line_bytes = 100;
  EngineSupervisor supervisor(options);
  std::vector<Line> lines;
  auto exit = supervisor.Run([&](const Line& line) { lines.push_back(line); });
  ASSERT_TRUE(exit.ok()) << exit.status();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(lines[0].truncated);
  EXPECT_EQ(lines[0].text, std::string(100, 'a'));
  EXPECT_EQ(lines[1].text, "after");
  EXPECT_FALSE(lines[1].truncated);
  EXPECT_EQ(lines[2].text, "tail");
}

TEST_F(EngineSupervisorTest, ReadsAFloodOfEventsWithoutLosingAny) {
  EngineSupervisor supervisor(Options("flood"));
  auto exit = RunCollecting(supervisor);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->Succeeded());
  size_t progress = 0;
  for (const EngineEvent& event : events_) {
    progress += event.type == EngineEventType::kProgress;
  }
  EXPECT_EQ(progress, 5001u);  // 5000 calibrate + 1 evaluate.
}

}  // namespace
}  // namespace quantd::agent
