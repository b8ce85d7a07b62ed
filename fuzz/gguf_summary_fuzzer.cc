// Fuzz target: the GGUF header reader quantd runs on every submitted .gguf
// model before accepting the job (server/scheduler/gguf_metadata.h), via
// InspectModel as the spec validator calls it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz/fuzz_scratch.h"
#include "server/scheduler/gguf_metadata.h"
#include "server/scheduler/model_inspector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const quantd::fuzz::ScratchDir scratch;
  const std::string file = scratch.Write("model.gguf", data, size);
  const auto info = quantd::scheduler::InspectModel(file, "model.uri");
  if (info.ok() && info->size_bytes != size) std::abort();
  if (quantd::scheduler::LooksLikeGguf(file)) {
    const auto summary = quantd::scheduler::ReadGgufSummary(file, "model.uri");
    if (summary.ok() != info.ok()) std::abort();
  }
  return 0;
}
