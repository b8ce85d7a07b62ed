#include "client/quantctl/output_format.h"

#include <regex>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "yaml-cpp/yaml.h"

namespace quantd::client {
namespace {

// Plain scalars that a YAML 1.1 or 1.2 reader would not read as a string
// (booleans, nulls, numbers, timestamps).
bool ReadsAsNonString(const std::string& text) {
  static const std::regex kSpecial(
      "|~|null|Null|NULL|true|True|TRUE|false|False|FALSE|yes|Yes|YES|no|No|"
      "NO|on|On|ON|off|Off|OFF|y|Y|n|N|[-+]?[0-9][0-9_.:eE+-]*|"
      "[-+]?\\.[0-9][0-9_]*|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN)|"
      "0x[0-9a-fA-F]+|0o[0-7]+|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?");
  return std::regex_match(text, kSpecial);
}

// JSON's number spelling, with a '.' in floats so YAML 1.1 readers (which
// read "1e-05" as a string) see a float too.
std::string YamlNumber(const nlohmann::json& value) {
  std::string text = value.dump();
  if (value.is_number_float() && text.find_first_of(".") == std::string::npos) {
    const size_t exponent = text.find_first_of("eE");
    text.insert(exponent == std::string::npos ? text.size() : exponent, ".0");
  }
  return text;
}

void EmitJson(const nlohmann::json& value, YAML::Emitter& out) {
  switch (value.type()) {
    case nlohmann::json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [key, item] : value.items()) {
        out << YAML::Key << key << YAML::Value;
        EmitJson(item, out);
      }
      out << YAML::EndMap;
      break;
    case nlohmann::json::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& item : value) EmitJson(item, out);
      out << YAML::EndSeq;
      break;
    case nlohmann::json::value_t::string: {
      const std::string& text = value.get_ref<const std::string&>();
      if (ReadsAsNonString(text)) out << YAML::DoubleQuoted;
      out << text;
      break;
    }
    case nlohmann::json::value_t::null:
      out << YAML::Null;
      break;
    case nlohmann::json::value_t::boolean:
      out << YAML::TrueFalseBool << value.get<bool>();
      break;
    default:
      out << YamlNumber(value);
  }
}

}  // namespace

absl::StatusOr<OutputFormat> ParseOutputFormat(absl::string_view text) {
  if (text == "table") return OutputFormat::kTable;
  if (text == "json") return OutputFormat::kJson;
  if (text == "yaml") return OutputFormat::kYaml;
  return InvalidFieldError(
      "--output",
      absl::StrCat("must be one of {table, json, yaml}, got \"", text, "\""));
}

std::string JsonToYaml(const nlohmann::json& value) {
  YAML::Emitter out;
  out.SetIndent(2);
  EmitJson(value, out);
  return absl::StrCat(out.c_str(), "\n");
}

std::string RenderDocument(const nlohmann::json& value, OutputFormat format) {
  switch (format) {
    case OutputFormat::kJson:
      return value.dump(2) + "\n";
    case OutputFormat::kYaml:
      return JsonToYaml(value);
    case OutputFormat::kTable:
      break;
  }
  return "";
}

}  // namespace quantd::client
