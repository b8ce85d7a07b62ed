// FormatError: the one exception the engine's model readers throw for a
// file they cannot use. It names the file, the tensor or field at fault and
// the problem, so the engine's boundary can turn it into a structured error
// event without parsing the message.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>

namespace quantd::contract {

class FormatError : public std::runtime_error {
 public:
  // What the error is about: the file as a whole, one tensor, or one
  // metadata/config field.
  enum class Subject { kFile, kTensor, kField };

  // Message: "FILE: PROBLEM", "FILE: tensor 'NAME': PROBLEM" or
  // "FILE: field 'NAME': PROBLEM".
  FormatError(const std::filesystem::path& file, Subject subject,
              std::string name, std::string problem);

  static FormatError ForFile(const std::filesystem::path& file,
                             std::string problem);
  static FormatError ForTensor(const std::filesystem::path& file,
                               std::string tensor, std::string problem);
  static FormatError ForField(const std::filesystem::path& file,
                              std::string field, std::string problem);

  const std::string& file() const { return file_; }
  Subject subject() const { return subject_; }
  // The tensor or field name; empty for kFile.
  const std::string& name() const { return name_; }
  const std::string& problem() const { return problem_; }

 private:
  std::string file_;
  Subject subject_;
  std::string name_;
  std::string problem_;
};

}  // namespace quantd::contract
