// Fuzz target: the GGUF header reader quantd runs on every submitted .gguf
// model before accepting the job (contract/gguf_header.h, the engine's
// own), via InspectModel as the spec validator calls it: never a crash or
// an exception, and an accepted file is what it says.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "contract/gguf_header.h"
#include "fuzz/fuzz_scratch.h"
#include "server/scheduler/model_inspector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const quantd::fuzz::ScratchDir scratch;
  const std::string file = scratch.Write("model.gguf", data, size);
  const auto info = quantd::scheduler::InspectModel(file, "model.uri");
  if (info.ok() && info->size_bytes != size) std::abort();
  const bool gguf = quantd::contract::LooksLikeGguf(file);
  if (info.ok() && (info->format == "gguf") != gguf) std::abort();
  return 0;
}
