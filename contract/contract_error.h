// ContractError: a job description that breaks a rule of the contract,
// with the spec field at fault (e.g. "scheme", "group_size",
// "export_formats"). Each side wraps it once into its own error type:
// quantd into INVALID_ARGUMENT, the engine into SpecError/ConfigError,
// quantctl into a flag error.
#pragma once

#include <stdexcept>
#include <string>

namespace quantd::contract {

class ContractError : public std::invalid_argument {
 public:
  ContractError(std::string field, const std::string& problem)
      : std::invalid_argument(problem), field_(std::move(field)) {}
  // The field at fault, relative to what was parsed ("scheme",
  // "weight_bits", "activation_bits", "group_size", "export_formats").
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

}  // namespace quantd::contract
