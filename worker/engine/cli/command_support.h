// What the interactive subcommands (`eval`, `inspect`) share: option
// parsing helpers that raise UsageError, the process's peak RSS, and
// ReportErrors, which runs a command body and maps every failure to a
// message on stderr and the engine's exit status (0 success, 2 usage or
// invalid input, 3 runtime failure, 4 out of memory).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>

namespace quantd::engine::cli {

inline constexpr int kExitInvalid = 2;
inline constexpr int kExitRuntime = 3;
inline constexpr int kExitOutOfMemory = 4;
// A job with an accuracy target none of whose attempts met it.
inline constexpr int kExitTargetNotMet = 5;

// A bad flag value; the message names the flag ("--seq-len must be ...").
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "cpu", "cuda", "cuda:N" or "auto" (CUDA when present, else CPU). Throws
// UsageError for anything else or for CUDA on a machine without it.
at::Device ParseDeviceFlag(const std::string& text);

// Sets LibTorch's intra-op threads: `threads` when positive, else every
// core. Returns the count in effect.
int ApplyThreadsFlag(int threads);

// The process's peak resident set size so far, in bytes (0 if unknown).
int64_t PeakRssBytes();

// Runs `body`, returning its status; prints "quantd-engine COMMAND: error:
// MESSAGE" to stderr and returns the mapped status for an exception.
int ReportErrors(const std::string& command, const std::function<int()>& body);

}  // namespace quantd::engine::cli
