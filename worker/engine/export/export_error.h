// ExportError: the one exception type of worker/engine/export. Its message
// names the file, tensor or field at fault and the problem, e.g.
// "out/model/model.safetensors: cannot write: No space left on device" or
// "AddBlock: block 3 was already added".
#pragma once

#include <stdexcept>
#include <string>

namespace quantd::engine::exporting {

class ExportError : public std::runtime_error {
 public:
  explicit ExportError(const std::string& message)
      : std::runtime_error(message) {}
};

}  // namespace quantd::engine::exporting
