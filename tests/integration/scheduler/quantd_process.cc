#include "tests/integration/scheduler/quantd_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"

extern char** environ;

namespace quantd::testing {
namespace {

namespace fs = std::filesystem;

std::string BinaryDir() {
  const char* dir = std::getenv("QUANTD_BINARY_DIR");
  return dir != nullptr ? dir : "";
}

// Reads "grpc=N\nmetrics=M\n"; false until the file is complete.
bool ReadPorts(const std::string& path, int* grpc_port, int* metrics_port) {
  std::ifstream in(path);
  std::string line;
  int found = 0;
  while (std::getline(in, line)) {
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    int value = 0;
    if (!absl::SimpleAtoi(line.substr(eq + 1), &value)) continue;
    if (line.substr(0, eq) == "grpc") *grpc_port = value, ++found;
    if (line.substr(0, eq) == "metrics") *metrics_port = value, ++found;
  }
  return found == 2;
}

bool Exited(pid_t pid, int* status) {
  return ::waitpid(pid, status, WNOHANG) == pid;
}

}  // namespace

std::string SourceDir() {
  const char* dir = std::getenv("QUANTD_SOURCE_DIR");
  EXPECT_NE(dir, nullptr) << "QUANTD_SOURCE_DIR is not set";
  return dir != nullptr ? dir : "";
}

ScratchDir::ScratchDir() {
  static std::atomic<int> counter{0};
  path_ = (fs::path(::testing::TempDir()) /
           absl::StrCat("quantd_it_", ::getpid(), "_", counter++))
              .string();
  fs::remove_all(path_);
  fs::create_directories(path_);
}

ScratchDir::~ScratchDir() {
  std::error_code error;
  fs::remove_all(path_, error);
}

absl::StatusOr<std::unique_ptr<QuantdProcess>> QuantdProcess::Start(
    const std::string& data_dir, const std::vector<std::string>& args) {
  const std::string binary = BinaryDir() + "/server/quantd";
  if (!fs::exists(binary)) {
    return absl::NotFoundError(
        absl::StrCat(binary, " not built (QUANTD_BINARY_DIR)"));
  }
  std::unique_ptr<QuantdProcess> process(new QuantdProcess());
  const std::string port_file = data_dir + "/ports";
  fs::create_directories(data_dir);
  fs::remove(port_file);
  process->log_path_ = data_dir + "/quantd.log";
  std::vector<std::string> argv = {
      binary, "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0",
      "--data_dir=" + data_dir + "/data", "--port_file=" + port_file};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> raw;
  for (std::string& arg : argv) raw.push_back(arg.data());
  raw.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, process->log_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  const int rc = posix_spawn(&process->pid_, binary.c_str(), &actions, nullptr,
                             raw.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return absl::InternalError("posix_spawn failed");
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (ReadPorts(port_file, &process->grpc_port_, &process->metrics_port_)) {
      return process;
    }
    int status = 0;
    if (Exited(process->pid_, &status)) {
      process->pid_ = -1;
      return absl::InternalError("quantd exited at start:\n" + process->Log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::DeadlineExceededError("quantd did not start:\n" +
                                     process->Log());
}

QuantdProcess::~QuantdProcess() {
  if (pid_ > 0) Kill();
}

std::string QuantdProcess::address() const {
  return absl::StrCat("127.0.0.1:", grpc_port_);
}

std::shared_ptr<grpc::Channel> QuantdProcess::Channel() const {
  grpc::ChannelArguments arguments;
  // Every test talks to its own process: no channel sharing across them.
  arguments.SetInt("grpc.use_local_subchannel_pool", 1);
  return grpc::CreateCustomChannel(
      address(), grpc::InsecureChannelCredentials(), arguments);
}

std::string QuantdProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void QuantdProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

int QuantdProcess::Terminate() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (Exited(pid_, &status)) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Kill();
  return -1;
}

}  // namespace quantd::testing
