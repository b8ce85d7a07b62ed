// Typed errors of the quantization methods: MethodError for a method that
// cannot act on a block (a transformation the architecture does not allow, a
// degenerate statistic), ParamError for an invalid `method_params` entry of
// a job spec, naming the dotted field ("method_params.alpha") so the engine
// boundary can report it as a field-level reason.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace quantd::engine::methods {

class MethodError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ParamError : public std::runtime_error {
 public:
  // `field` is the dotted JobSpec path; the message reads "field: problem".
  ParamError(std::string field, const std::string& problem)
      : std::runtime_error(field + ": " + problem), field_(std::move(field)) {}

  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

}  // namespace quantd::engine::methods
