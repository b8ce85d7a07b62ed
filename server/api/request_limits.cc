#include "server/api/request_limits.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "google/protobuf/descriptor.pb.h"

namespace quantd::api {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::string Join(const std::string& path, const std::string& name) {
  return path.empty() ? name : absl::StrCat(path, ".", name);
}

absl::Status CheckString(const std::string& value, const std::string& field,
                         const MessageLimits& limits) {
  if (value.size() <= limits.max_string_bytes) return absl::OkStatus();
  return InvalidFieldError(
      field, absl::StrCat("longer than ", limits.max_string_bytes, " bytes"));
}

absl::Status Walk(const Message& message, const std::string& path, int depth,
                  const MessageLimits& limits);

absl::Status WalkField(const Message& message, const FieldDescriptor* field,
                       const std::string& name, int depth,
                       const MessageLimits& limits) {
  const Reflection* reflection = message.GetReflection();
  const bool is_string = field->type() == FieldDescriptor::TYPE_STRING;
  const bool is_message = field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
  std::string scratch;
  if (!field->is_repeated()) {
    if (is_string) {
      return CheckString(
          reflection->GetStringReference(message, field, &scratch), name,
          limits);
    }
    if (is_message) {
      return Walk(reflection->GetMessage(message, field), name, depth + 1,
                  limits);
    }
    return absl::OkStatus();
  }
  const int count = reflection->FieldSize(message, field);
  if (static_cast<size_t>(count) > limits.max_entries) {
    return InvalidFieldError(
        name, absl::StrCat("more than ", limits.max_entries, " entries"));
  }
  for (int i = 0; i < count; ++i) {
    if (is_string) {
      QUANTD_RETURN_IF_ERROR(CheckString(
          reflection->GetRepeatedStringReference(message, field, i, &scratch),
          name, limits));
    } else if (is_message) {
      QUANTD_RETURN_IF_ERROR(
          Walk(reflection->GetRepeatedMessage(message, field, i), name,
               depth + 1, limits));
    }
  }
  return absl::OkStatus();
}

absl::Status Walk(const Message& message, const std::string& path, int depth,
                  const MessageLimits& limits) {
  if (depth > limits.max_depth) {
    return InvalidFieldError(
        path, absl::StrCat("nested deeper than ", limits.max_depth, " levels"));
  }
  std::vector<const FieldDescriptor*> fields;
  message.GetReflection()->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    // Map entries are messages with "key" and "value": name them by the map.
    const bool map_entry = message.GetDescriptor()->options().map_entry();
    const std::string name = map_entry ? path : Join(path, field->name());
    QUANTD_RETURN_IF_ERROR(WalkField(message, field, name, depth, limits));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckMessageLimits(const Message& message,
                                const MessageLimits& limits) {
  const size_t size = message.ByteSizeLong();
  if (size > limits.max_request_bytes) {
    return InvalidFieldError(
        "request", absl::StrCat(size, " bytes, more than the limit of ",
                                limits.max_request_bytes));
  }
  return Walk(message, "", 0, limits);
}

}  // namespace quantd::api
