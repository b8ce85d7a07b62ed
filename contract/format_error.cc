#include "contract/format_error.h"

#include <utility>

namespace quantd::contract {
namespace {

std::string Compose(const std::string& file, FormatError::Subject subject,
                    const std::string& name, const std::string& problem) {
  switch (subject) {
    case FormatError::Subject::kTensor:
      return file + ": tensor '" + name + "': " + problem;
    case FormatError::Subject::kField:
      return file + ": field '" + name + "': " + problem;
    case FormatError::Subject::kFile:
      break;
  }
  return file + ": " + problem;
}

}  // namespace

FormatError::FormatError(const std::filesystem::path& file, Subject subject,
                         std::string name, std::string problem)
    : std::runtime_error(Compose(file.string(), subject, name, problem)),
      file_(file.string()),
      subject_(subject),
      name_(std::move(name)),
      problem_(std::move(problem)) {}

FormatError FormatError::ForFile(const std::filesystem::path& file,
                                 std::string problem) {
  return FormatError(file, Subject::kFile, "", std::move(problem));
}

FormatError FormatError::ForTensor(const std::filesystem::path& file,
                                   std::string tensor, std::string problem) {
  return FormatError(file, Subject::kTensor, std::move(tensor),
                     std::move(problem));
}

FormatError FormatError::ForField(const std::filesystem::path& file,
                                  std::string field, std::string problem) {
  return FormatError(file, Subject::kField, std::move(field),
                     std::move(problem));
}

}  // namespace quantd::contract
