// ModelError: what the model layer throws when a checkpoint does not fit the
// architecture it claims (a missing tensor, a shape that disagrees with the
// config, an unsupported hyper-parameter) or when a caller names a layer,
// site or hook point that the block does not have. The message names the
// source, the tensor or field, and the problem.
#pragma once

#include <stdexcept>

namespace quantd::engine::model {

class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace quantd::engine::model
