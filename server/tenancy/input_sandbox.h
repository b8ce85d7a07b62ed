// InputSandbox: the API's check of a job's file:// inputs before the
// scheduler resolves them (scheduler::AllowedRoots canonicalises and checks
// the prefix again). It adds what a shared scheduler check cannot:
//
// - A lexical check first: an absolute path with no "." or ".." segments,
//   no control characters, lexically inside a root (as configured or as
//   canonicalised). A URI outside every root is refused without touching
//   the file system, so errors reveal nothing about files elsewhere.
// - Per-tenant roots: a root may contain a "{tenant}" path component
//   ("/srv/models/{tenant}"); the caller's tenant fills it in, the path is
//   canonicalised and must stay inside that tenant's directory, so a
//   symlink cannot lead into another tenant's. The scheduler is given the
//   part before "{tenant}" ("/srv/models").
//
// Roots must not be writable by tenants: a path is checked at submission
// and opened later by the worker.
//
// Thread-safety: immutable after Create().
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "quantd/v1/types.pb.h"

namespace quantd::tenancy {

class InputSandbox {
 public:
  // InvalidArgument naming allowed_roots for a relative root or a
  // "{tenant}" that is not a whole path component.
  [[nodiscard]] static absl::StatusOr<InputSandbox> Create(
      const std::vector<std::string>& roots);
  InputSandbox() = default;

  // The roots to hand to scheduler::AllowedRoots.
  std::vector<std::string> SchedulerRoots() const;

  // Checks every file:// DataRef of `spec` (model, calibration and
  // evaluation datasets) for `tenant`; InvalidArgument naming the field.
  [[nodiscard]] absl::Status Check(const quantd::v1::JobSpec& spec,
                                   const std::string& tenant) const;

 private:
  struct Root {
    // Configured spelling and canonical path (empty when it does not
    // exist); templates keep "{tenant}" in both.
    std::string configured;
    std::string canonical;
    bool per_tenant = false;
  };
  absl::Status CheckUri(const std::string& uri, const std::string& field,
                        const std::string& tenant) const;

  std::vector<Root> roots_;
};

}  // namespace quantd::tenancy
