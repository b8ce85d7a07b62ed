#include "worker/engine/methods/method_params.h"

#include <variant>

#include "worker/engine/methods/method_error.h"

namespace quantd::engine::methods {

MethodParams::MethodParams(const contract::ParamValues& values) {
  for (const auto& [key, value] : values) {
    std::visit([&](auto v) { values_[key] = v; }, value);
  }
}

bool MethodParams::Has(std::string_view key) const {
  return values_.contains(std::string(key));
}

const nlohmann::json& MethodParams::Get(std::string_view key) const {
  auto found = values_.find(std::string(key));
  if (found == values_.end()) {
    throw ParamError("method_params." + std::string(key),
                     "required but not given");
  }
  return *found;
}

double MethodParams::Number(std::string_view key) const {
  return Get(key).get<double>();
}

int64_t MethodParams::Integer(std::string_view key) const {
  return Get(key).get<int64_t>();
}

bool MethodParams::Bool(std::string_view key) const {
  return Get(key).get<bool>();
}

std::vector<std::pair<std::string, contract::RawParam>> RawParamsOf(
    const nlohmann::json& object) {
  std::vector<std::pair<std::string, contract::RawParam>> raw;
  if (!object.is_object()) return raw;
  for (const auto& [key, value] : object.items()) {
    contract::RawParam param;
    param.text = value.dump();
    if (value.is_boolean()) {
      param.kind = contract::RawParam::Kind::kBool;
      param.boolean = value.get<bool>();
    } else if (value.is_number()) {
      param.kind = contract::RawParam::Kind::kNumber;
      param.number = value.get<double>();
    } else if (value.is_object()) {
      param.kind = contract::RawParam::Kind::kObject;
      for (auto& [member, member_value] : RawParamsOf(value)) {
        param.members.push_back({member, std::move(member_value)});
      }
    }
    raw.emplace_back(key, std::move(param));
  }
  return raw;
}

}  // namespace quantd::engine::methods
