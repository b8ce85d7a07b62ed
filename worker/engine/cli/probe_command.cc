#include "worker/engine/cli/probe_command.h"

#include <ATen/Context.h>
#include <ATen/cuda/CUDAContextLight.h>
#include <torch/version.h>
#include <unistd.h>

#include "worker/engine/cli/version.h"
#include "worker/engine/methods/registry.h"

namespace quantd::engine::cli {
namespace {

uint64_t HostMemoryBytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_size <= 0) return 0;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size);
}

}  // namespace

nlohmann::json ProbeCapabilities() {
  nlohmann::json devices = nlohmann::json::array();
  devices.push_back({{"name", "cpu"},
                     {"model", "x86_64"},
                     {"memory_bytes", HostMemoryBytes()}});
  if (at::hasCUDA()) {
    const int count = at::cuda::device_count();
    for (int i = 0; i < count; ++i) {
      const cudaDeviceProp* prop = at::cuda::getDeviceProperties(i);
      devices.push_back({{"name", "cuda:" + std::to_string(i)},
                         {"model", prop->name},
                         {"memory_bytes", prop->totalGlobalMem}});
    }
  }
  // The scheduler places a job only on workers whose engine lists its
  // method.
  nlohmann::json methods = nlohmann::json::array();
  for (const methods::MethodInfo& info : methods::Methods()) {
    methods.push_back(info.name);
  }
  return {{"engine_version", kEngineVersion},
          {"torch_version", TORCH_VERSION},
          {"host_memory_bytes", HostMemoryBytes()},
          {"devices", devices},
          {"methods", methods}};
}

}  // namespace quantd::engine::cli
