// Fuzz target: the config.json reader quantd runs on every submitted model
// directory before accepting the job (InspectModel in
// server/scheduler/model_inspector.h).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz/fuzz_scratch.h"
#include "server/scheduler/model_inspector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const quantd::fuzz::ScratchDir scratch;
  scratch.Write("model/config.json", data, size);
  const auto info =
      quantd::scheduler::InspectModel(scratch.path() + "/model", "model.uri");
  // The dimensions it accepts are bounded (kMaxDimension, 2^24).
  if (info.ok() && (info->hidden_size > (1u << 24) ||
                    info->num_layers > (1u << 24) || info->format != "hf")) {
    std::abort();
  }
  return 0;
}
