#include "worker/engine/io/model_config.h"

namespace quantd::engine::io {

const char* ArchitectureName(Architecture architecture) {
  switch (architecture) {
    case Architecture::kLlama:
      return "llama";
    case Architecture::kOpt:
      return "opt";
    case Architecture::kBert:
      return "bert";
  }
  return "?";
}

}  // namespace quantd::engine::io
