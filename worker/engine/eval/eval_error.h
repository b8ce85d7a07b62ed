// EvalError: thrown for evaluation requests that cannot be met (a window
// longer than the text, an unreadable data file, an encoder asked for
// perplexity); the message names the option or file at fault.
#pragma once

#include <stdexcept>

namespace quantd::engine::eval {

class EvalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace quantd::engine::eval
