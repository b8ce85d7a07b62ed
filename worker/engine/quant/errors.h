// Typed errors of the quantizer library. Every message names the function or
// configuration field, the tensor shape or value involved, and the problem;
// the engine boundary turns them into one structured error event.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace quantd::engine::quant {

// A quantizer was misused or given tensors it cannot handle (wrong shape,
// dtype, or a static quantizer applied before calibration).
class QuantError : public std::runtime_error {
 public:
  explicit QuantError(const std::string& message)
      : std::runtime_error(message) {}
};

// A configuration or scheme string is invalid. `field()` names the offending
// field ("bits", "group_size", "scheme", ...) so a caller can report it as a
// field-level reason.
class ConfigError : public QuantError {
 public:
  ConfigError(std::string field, const std::string& message)
      : QuantError(message), field_(std::move(field)) {}

  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

}  // namespace quantd::engine::quant
