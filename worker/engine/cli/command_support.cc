#include "worker/engine/cli/command_support.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <sys/resource.h>

#include <iostream>
#include <new>
#include <optional>
#include <thread>

#include "worker/engine/eval/eval_error.h"
#include "worker/engine/io/format_error.h"
#include "worker/engine/model/model_error.h"
#include "worker/engine/tokenizer/tokenizer.h"

namespace quantd::engine::cli {

at::Device ParseDeviceFlag(const std::string& text) {
  if (text == "auto") return at::hasCUDA() ? at::Device(at::kCUDA) : at::kCPU;
  std::optional<at::Device> device;
  try {
    device = at::Device(text);
  } catch (const c10::Error&) {
  }
  if (!device || (!device->is_cpu() && !device->is_cuda())) {
    throw UsageError("--device must be cpu, cuda[:N] or auto, got '" + text +
                     "'");
  }
  if (device->is_cuda() && !at::hasCUDA()) {
    throw UsageError("--device " + text + ": this machine has no CUDA device");
  }
  return *device;
}

int ApplyThreadsFlag(int threads) {
  if (threads < 0) {
    throw UsageError("--threads must be positive (0 = every core), got " +
                     std::to_string(threads));
  }
  int count =
      threads > 0
          ? threads
          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(count);
  return count;
}

int64_t PeakRssBytes() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux: KiB.
}

int ReportErrors(const std::string& command, const std::function<int()>& body) {
  auto fail = [&](int status, const std::string& message) {
    std::cerr << "quantd-engine " << command << ": error: " << message << "\n";
    return status;
  };
  try {
    return body();
  } catch (const UsageError& error) {
    return fail(kExitInvalid, error.what());
  } catch (const io::FormatError& error) {
    return fail(kExitInvalid, error.what());
  } catch (const tokenizer::TokenizerError& error) {
    return fail(kExitInvalid, error.what());
  } catch (const model::ModelError& error) {
    return fail(kExitInvalid, error.what());
  } catch (const eval::EvalError& error) {
    return fail(kExitInvalid, error.what());
  } catch (const c10::OutOfMemoryError& error) {
    return fail(kExitOutOfMemory, error.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    return fail(kExitOutOfMemory, "out of host memory");
  } catch (const c10::Error& error) {
    return fail(kExitRuntime, error.what_without_backtrace());
  } catch (const std::exception& error) {
    return fail(kExitRuntime, error.what());
  }
}

}  // namespace quantd::engine::cli
