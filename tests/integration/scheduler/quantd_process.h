// Runs a real quantd process for integration tests: on 127.0.0.1 with
// ephemeral ports (read back from its --port_file), its own data directory,
// and stdout/stderr kept in a log file beside it. Can stop it gracefully
// (SIGTERM) or kill it outright (SIGKILL) and start it again on the same
// data.
//
// Thread-safety: none; one test thread drives it.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"

namespace quantd::testing {

class QuantdProcess {
 public:
  // Starts `<QUANTD_BINARY_DIR>/server/quantd` with `args` added to the
  // listen, data_dir and port_file flags, and waits (bounded) until it has
  // written its ports.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<QuantdProcess>> Start(
      const std::string& data_dir, const std::vector<std::string>& args = {});
  ~QuantdProcess();

  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_port_; }
  std::string address() const;
  std::shared_ptr<grpc::Channel> Channel() const;
  // The log file's contents, for failure messages.
  std::string Log() const;

  // SIGKILL and reap.
  void Kill();
  // SIGTERM and wait for the exit status (bounded); -1 on timeout.
  int Terminate();

 private:
  QuantdProcess() = default;
  pid_t pid_ = -1;
  int grpc_port_ = 0;
  int metrics_port_ = 0;
  std::string log_path_;
};

// A fresh directory for one test, removed with the object.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The repository root (QUANTD_SOURCE_DIR); fails the test when unset.
std::string SourceDir();

}  // namespace quantd::testing
