#include "common/logging.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "fmt/chrono.h"
#include "spdlog/details/os.h"
#include "spdlog/formatter.h"
#include "spdlog/sinks/basic_file_sink.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace quantd {
namespace {

void AppendJsonString(std::string_view text, spdlog::memory_buf_t& out) {
  out.push_back('"');
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out.append(std::string_view("\\\""));
        break;
      case '\\':
        out.append(std::string_view("\\\\"));
        break;
      case '\n':
        out.append(std::string_view("\\n"));
        break;
      case '\r':
        out.append(std::string_view("\\r"));
        break;
      case '\t':
        out.append(std::string_view("\\t"));
        break;
      default:
        if (c < 0x20) {
          const std::string escaped = fmt::format("\\u{:04x}", c);
          out.append(std::string_view(escaped));
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

// One JSON object a line: {"ts":..,"level":..,"logger":..,"msg":..}.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg,
              spdlog::memory_buf_t& dest) override {
    const auto since_epoch = msg.time.time_since_epoch();
    const std::time_t seconds =
        std::chrono::duration_cast<std::chrono::seconds>(since_epoch).count();
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch)
            .count() %
        1000;
    const std::string ts = fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z",
                                       fmt::gmtime(seconds), millis);
    dest.append(std::string_view("{\"ts\":"));
    AppendJsonString(ts, dest);
    dest.append(std::string_view(",\"level\":"));
    const auto level = spdlog::level::to_string_view(msg.level);
    AppendJsonString(std::string_view(level.data(), level.size()), dest);
    dest.append(std::string_view(",\"logger\":"));
    AppendJsonString(
        std::string_view(msg.logger_name.data(), msg.logger_name.size()), dest);
    dest.append(std::string_view(",\"msg\":"));
    AppendJsonString(std::string_view(msg.payload.data(), msg.payload.size()),
                     dest);
    dest.append(std::string_view("}\n"));
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

absl::StatusOr<spdlog::level::level_enum> ParseLevel(const std::string& name) {
  static const std::vector<std::string_view> kNames = {
      "trace", "debug", "info", "warn", "error", "critical", "off"};
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<spdlog::level::level_enum>(i);
  }
  return InvalidFieldError("log.levels",
                           absl::StrCat("unknown level \"", name, "\""));
}

}  // namespace

absl::StatusOr<std::unique_ptr<LoggerFactory>> LoggerFactory::Create(
    const LogOptions& options) {
  std::unique_ptr<LoggerFactory> factory(new LoggerFactory());
  if (options.file.empty()) {
    factory->sink_ = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  } else {
    try {
      factory->sink_ =
          std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.file);
    } catch (const spdlog::spdlog_ex& e) {
      return InvalidFieldError("log.file", e.what());
    }
  }
  if (options.format == "json") {
    factory->sink_->set_formatter(std::make_unique<JsonFormatter>());
  } else if (options.format == "text") {
    factory->sink_->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%L%$ [%n] %v");
  } else {
    return InvalidFieldError(
        "log.format", absl::StrCat("must be \"text\" or \"json\", got \"",
                                   options.format, "\""));
  }
  QUANTD_RETURN_IF_ERROR(factory->SetLevels(options.levels));
  return factory;
}

std::shared_ptr<spdlog::logger> LoggerFactory::Get(
    const std::string& component) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& logger = loggers_[component];
  if (!logger) {
    logger = std::make_shared<spdlog::logger>(component, sink_);
    logger->set_level(LevelFor(component));
  }
  return logger;
}

absl::Status LoggerFactory::SetLevels(const std::string& levels) {
  spdlog::level::level_enum default_level = spdlog::level::info;
  std::map<std::string, spdlog::level::level_enum> per_component;
  for (absl::string_view part :
       absl::StrSplit(levels, ',', absl::SkipEmpty())) {
    std::vector<std::string> kv = absl::StrSplit(part, '=');
    if (kv.size() == 1) {
      QUANTD_ASSIGN_OR_RETURN(default_level, ParseLevel(kv[0]));
    } else if (kv.size() == 2 && !kv[0].empty()) {
      QUANTD_ASSIGN_OR_RETURN(per_component[kv[0]], ParseLevel(kv[1]));
    } else {
      return InvalidFieldError("log.levels",
                               absl::StrCat("malformed entry \"", part, "\""));
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  default_level_ = default_level;
  levels_ = std::move(per_component);
  for (auto& [name, logger] : loggers_) logger->set_level(LevelFor(name));
  return absl::OkStatus();
}

spdlog::level::level_enum LoggerFactory::LevelFor(
    const std::string& component) const {
  auto it = levels_.find(component);
  return it == levels_.end() ? default_level_ : it->second;
}

}  // namespace quantd
