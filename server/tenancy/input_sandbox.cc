#include "server/tenancy/input_sandbox.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/status.h"

namespace quantd::tenancy {
namespace {

constexpr char kTenant[] = "{tenant}";
constexpr size_t kTenantChars = sizeof(kTenant) - 1;
constexpr char kScheme[] = "file://";
constexpr size_t kSchemeChars = sizeof(kScheme) - 1;

std::string RealPath(const std::string& path) {
  char* resolved = ::realpath(path.c_str(), nullptr);
  if (resolved == nullptr) return "";
  std::string out(resolved);
  std::free(resolved);
  return out;
}

bool IsUnder(const std::string& path, const std::string& root) {
  if (root.empty()) return false;
  if (root == "/") return true;
  return path == root || absl::StartsWith(path, root + "/");
}

// "/a//b/" -> "/a/b"; InvalidArgument for ".", "..", or control bytes.
absl::StatusOr<std::string> Normalise(const std::string& path,
                                      const std::string& field) {
  if (path.empty() || path[0] != '/') {
    return InvalidFieldError(field, "must be file:///absolute/path");
  }
  std::vector<absl::string_view> kept;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (part == "..")
      return InvalidFieldError(field, "must not contain \"..\"");
    if (part == ".") return InvalidFieldError(field, "must not contain \".\"");
    for (char c : part) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        return InvalidFieldError(field, "contains a control character");
      }
    }
    kept.push_back(part);
  }
  return absl::StrCat("/", absl::StrJoin(kept, "/"));
}

// The directory part of a template before its "{tenant}" component.
std::string TemplateBase(const std::string& root) {
  const size_t at = root.find(kTenant);
  const std::string base = root.substr(0, at);
  return base.size() > 1 ? base.substr(0, base.size() - 1) : base;
}

}  // namespace

absl::StatusOr<InputSandbox> InputSandbox::Create(
    const std::vector<std::string>& roots) {
  InputSandbox sandbox;
  for (const std::string& configured : roots) {
    if (configured.empty()) continue;
    QUANTD_ASSIGN_OR_RETURN(std::string root,
                            Normalise(configured, "allowed_roots"));
    Root entry{root, "", false};
    if (absl::StrContains(root, "{") || absl::StrContains(root, "}")) {
      int whole = 0;
      for (absl::string_view part : absl::StrSplit(root, '/')) {
        const bool braces =
            absl::StrContains(part, "{") || absl::StrContains(part, "}");
        if (part == absl::string_view(kTenant, kTenantChars)) {
          ++whole;
        } else if (braces) {
          whole = 2;
        }
      }
      if (whole != 1) {
        return InvalidFieldError(
            "allowed_roots",
            absl::StrCat("\"", configured,
                         "\": {tenant} must be one whole path component"));
      }
      entry.per_tenant = true;
      const std::string base = RealPath(TemplateBase(root));
      if (!base.empty()) {
        entry.canonical = base + root.substr(TemplateBase(root).size());
      }
    } else {
      entry.canonical = RealPath(root);
    }
    sandbox.roots_.push_back(std::move(entry));
  }
  return sandbox;
}

std::vector<std::string> InputSandbox::SchedulerRoots() const {
  std::vector<std::string> out;
  for (const Root& root : roots_) {
    out.push_back(root.per_tenant ? TemplateBase(root.configured)
                                  : root.configured);
  }
  return out;
}

absl::Status InputSandbox::CheckUri(const std::string& uri,
                                    const std::string& field,
                                    const std::string& tenant) const {
  if (!absl::StartsWith(uri, kScheme)) {
    return InvalidFieldError(field, "only file:// URIs are supported");
  }
  QUANTD_ASSIGN_OR_RETURN(std::string path,
                          Normalise(uri.substr(kSchemeChars), field));
  for (const Root& root : roots_) {
    if (!root.per_tenant) {
      if (IsUnder(path, root.configured) || IsUnder(path, root.canonical)) {
        return absl::OkStatus();
      }
      continue;
    }
    const std::string mine =
        absl::StrReplaceAll(root.configured, {{kTenant, tenant}});
    const std::string mine_canonical =
        absl::StrReplaceAll(root.canonical, {{kTenant, tenant}});
    if (!IsUnder(path, mine) && !IsUnder(path, mine_canonical)) continue;
    // Inside the tenant's directory by name: after symlinks too?
    const std::string real = RealPath(path);
    if (real.empty() || IsUnder(real, RealPath(mine))) return absl::OkStatus();
  }
  return InvalidFieldError(field, "is outside the allowed roots");
}

absl::Status InputSandbox::Check(const quantd::v1::JobSpec& spec,
                                 const std::string& tenant) const {
  const std::pair<const quantd::v1::DataRef*, const char*> refs[] = {
      {&spec.model(), "model.uri"},
      {&spec.calibration().dataset(), "calibration.dataset.uri"},
      {&spec.evaluation().dataset(), "evaluation.dataset.uri"}};
  for (const auto& [ref, field] : refs) {
    if (ref->has_uri()) {
      QUANTD_RETURN_IF_ERROR(CheckUri(ref->uri(), field, tenant));
    }
  }
  return absl::OkStatus();
}

}  // namespace quantd::tenancy
