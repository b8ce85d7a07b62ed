// Note: Debian's abseil is built with its own absl::string_view (not an
// alias of std::string_view); use absl::string_view with absl APIs.
//
// Status helpers shared by the scheduler, the worker agent and the clients:
// propagation macros that add context, field-level InvalidArgument errors,
// and QUANTD_CHECK for programmer errors (never for input).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace quantd {

// An InvalidArgument error that names the offending field, formatted
// "field: reason" so people and programs can both read it.
absl::Status InvalidFieldError(absl::string_view field,
                               absl::string_view reason);

// Returns the field named by an error made with InvalidFieldError, or "".
std::string FieldOfError(const absl::Status& status);

// Prefixes `context` to the message of a non-OK status, keeping its code.
absl::Status Annotate(const absl::Status& status, absl::string_view context);

namespace internal {
[[noreturn]] void CheckFailed(const char* file, int line, const char* expr,
                              std::string_view message);
inline const absl::Status& AsStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& AsStatus(const absl::StatusOr<T>& s) {
  return s.status();
}
}  // namespace internal

}  // namespace quantd

#define QUANTD_STATUS_CONCAT_INNER(a, b) a##b
#define QUANTD_STATUS_CONCAT(a, b) QUANTD_STATUS_CONCAT_INNER(a, b)

// Returns early with the error of `expr` (a Status or StatusOr).
#define QUANTD_RETURN_IF_ERROR(expr)                  \
  do {                                                \
    if (auto _quantd_s = (expr); !_quantd_s.ok()) {   \
      return ::quantd::internal::AsStatus(_quantd_s); \
    }                                                 \
  } while (false)

// QUANTD_ASSIGN_OR_RETURN(auto x, Compute()); moves the value into `lhs` or
// returns the error.
#define QUANTD_ASSIGN_OR_RETURN(lhs, expr)                                  \
  QUANTD_ASSIGN_OR_RETURN_IMPL(QUANTD_STATUS_CONCAT(_quantd_or_, __LINE__), \
                               lhs, expr)
#define QUANTD_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()

// Aborts with a message when a programmer's invariant is broken. Never use it
// on input from a file or a request: return an error instead.
#define QUANTD_CHECK(cond)                                            \
  do {                                                                \
    if (!(cond))                                                      \
      ::quantd::internal::CheckFailed(__FILE__, __LINE__, #cond, ""); \
  } while (false)
