#include "worker/agent/engine_event.h"

#include <algorithm>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/status.h"
#include "nlohmann/json.hpp"
#include "worker/agent/json_fields.h"

namespace quantd::agent {
namespace {

using Json = nlohmann::json;

constexpr uint64_t kMaxUint32 = std::numeric_limits<uint32_t>::max();

absl::StatusOr<quantd::v1::LayerFigure> ParseLayer(const Json& object,
                                                   size_t index) {
  const std::string where = absl::StrCat("progress.layers[", index, "]");
  if (!object.is_object()) {
    return InvalidFieldError(where, "must be an object");
  }
  JsonFields fields(object, where);
  quantd::v1::LayerFigure layer;
  QUANTD_ASSIGN_OR_RETURN(*layer.mutable_name(), fields.String("name"));
  QUANTD_ASSIGN_OR_RETURN(const double loss_before,
                          fields.Double("loss_before"));
  QUANTD_ASSIGN_OR_RETURN(const double loss_after, fields.Double("loss_after"));
  QUANTD_ASSIGN_OR_RETURN(const double threshold, fields.Double("threshold"));
  QUANTD_ASSIGN_OR_RETURN(const double scale_min, fields.Double("scale_min"));
  QUANTD_ASSIGN_OR_RETURN(const double scale_max, fields.Double("scale_max"));
  QUANTD_ASSIGN_OR_RETURN(const double scale_mean, fields.Double("scale_mean"));
  layer.set_loss_before(loss_before);
  layer.set_loss_after(loss_after);
  layer.set_threshold(threshold);
  layer.set_scale_min(scale_min);
  layer.set_scale_max(scale_max);
  layer.set_scale_mean(scale_mean);
  return layer;
}

absl::Status ParseProgress(const JsonFields& fields, EngineEvent& event) {
  quantd::v1::Progress& progress = event.progress;
  QUANTD_ASSIGN_OR_RETURN(*progress.mutable_stage(), fields.String("stage"));
  QUANTD_ASSIGN_OR_RETURN(const uint64_t block_index,
                          fields.Unsigned("block_index", kMaxUint32));
  QUANTD_ASSIGN_OR_RETURN(const uint64_t block_count,
                          fields.Unsigned("block_count", kMaxUint32));
  QUANTD_ASSIGN_OR_RETURN(const double fraction, fields.Double("fraction"));
  QUANTD_ASSIGN_OR_RETURN(const double eta, fields.Double("eta_seconds", -1));
  progress.set_block_index(static_cast<uint32_t>(block_index));
  progress.set_block_count(static_cast<uint32_t>(block_count));
  // A rounding overshoot must not make the whole event unusable.
  progress.set_fraction(std::clamp(fraction, 0.0, 1.0));
  progress.set_eta_seconds(eta);
  QUANTD_ASSIGN_OR_RETURN(const Json* layers, fields.Array("layers"));
  if (layers == nullptr) return absl::OkStatus();
  for (size_t i = 0; i < layers->size(); ++i) {
    QUANTD_ASSIGN_OR_RETURN(*progress.add_layers(),
                            ParseLayer((*layers)[i], i));
  }
  return absl::OkStatus();
}

absl::Status ParseCheckpointPart(const JsonFields& fields, EngineFile& file,
                                 absl::string_view where) {
  QUANTD_ASSIGN_OR_RETURN(const std::string part, fields.String("part"));
  if (part == "block") {
    file.part = CheckpointPart::kBlock;
  } else if (part == "streams") {
    file.part = CheckpointPart::kStreams;
  } else {
    return InvalidFieldError(absl::StrCat(where, ".part"),
                             "must be \"block\" or \"streams\"");
  }
  file.kind = "checkpoint";
  return CheckCheckpointFileName(file.name, absl::StrCat(where, ".name"));
}

absl::Status ParseFile(const JsonFields& fields, EngineEvent& event,
                       absl::string_view where) {
  EngineFile& file = event.file;
  QUANTD_ASSIGN_OR_RETURN(file.name, fields.String("name"));
  QUANTD_ASSIGN_OR_RETURN(file.path, fields.String("path"));
  QUANTD_ASSIGN_OR_RETURN(file.kind, fields.String("kind"));
  QUANTD_ASSIGN_OR_RETURN(file.size_bytes, fields.Unsigned("size_bytes"));
  QUANTD_ASSIGN_OR_RETURN(const uint64_t block,
                          fields.Unsigned("block_index", kMaxUint32));
  file.block_index = static_cast<uint32_t>(block);
  QUANTD_ASSIGN_OR_RETURN(std::string sha256, fields.String("sha256"));
  if (!absl::StartsWith(sha256, "sha256:")) sha256 = BlobRef(sha256);
  QUANTD_ASSIGN_OR_RETURN(file.sha256_hex,
                          ParseBlobRef(sha256, absl::StrCat(where, ".sha256")));
  if (file.path.empty()) {
    return InvalidFieldError(absl::StrCat(where, ".path"), "is required");
  }
  if (event.type == EngineEventType::kCheckpoint) {
    return ParseCheckpointPart(fields, file, where);
  }
  if (file.name.empty()) {
    return InvalidFieldError(absl::StrCat(where, ".name"), "is required");
  }
  return absl::OkStatus();
}

absl::StatusOr<quantd::v1::Attempt> ParseAttempt(const Json& object,
                                                 size_t index) {
  const std::string where = absl::StrCat("result.attempts[", index, "]");
  if (!object.is_object()) {
    return InvalidFieldError(where, "must be an object");
  }
  JsonFields fields(object, where);
  quantd::v1::Attempt attempt;
  QUANTD_ASSIGN_OR_RETURN(*attempt.mutable_method(), fields.String("method"));
  QUANTD_ASSIGN_OR_RETURN(*attempt.mutable_scheme(), fields.String("scheme"));
  QUANTD_ASSIGN_OR_RETURN(const double value, fields.Double("quantized_value"));
  QUANTD_ASSIGN_OR_RETURN(const double seconds, fields.Double("wall_seconds"));
  const Json* met = fields.Find("met_target");
  if (met != nullptr && !met->is_boolean()) {
    return fields.Error("met_target", "must be true or false");
  }
  attempt.set_quantized_value(value);
  attempt.set_wall_seconds(seconds);
  attempt.set_met_target(met != nullptr && met->get<bool>());
  return attempt;
}

absl::Status ParseResult(const JsonFields& fields, EngineEvent& event) {
  quantd::v1::JobResult& result = event.result;
  QUANTD_ASSIGN_OR_RETURN(*result.mutable_metric(), fields.String("metric"));
  QUANTD_ASSIGN_OR_RETURN(const double fp_value, fields.Double("fp_value"));
  QUANTD_ASSIGN_OR_RETURN(const double quantized_value,
                          fields.Double("quantized_value"));
  QUANTD_ASSIGN_OR_RETURN(const uint64_t eval_tokens,
                          fields.Unsigned("eval_tokens"));
  QUANTD_ASSIGN_OR_RETURN(const uint64_t eval_seq_len,
                          fields.Unsigned("eval_seq_len", kMaxUint32));
  QUANTD_ASSIGN_OR_RETURN(const double wall_seconds,
                          fields.Double("wall_seconds"));
  QUANTD_ASSIGN_OR_RETURN(const uint64_t peak_host,
                          fields.Unsigned("peak_host_memory_bytes"));
  QUANTD_ASSIGN_OR_RETURN(const uint64_t peak_device,
                          fields.Unsigned("peak_device_memory_bytes"));
  result.set_fp_value(fp_value);
  result.set_quantized_value(quantized_value);
  result.set_eval_tokens(eval_tokens);
  result.set_eval_seq_len(static_cast<uint32_t>(eval_seq_len));
  result.set_wall_seconds(wall_seconds);
  result.set_peak_host_memory_bytes(peak_host);
  result.set_peak_device_memory_bytes(peak_device);
  QUANTD_ASSIGN_OR_RETURN(const Json* attempts, fields.Array("attempts"));
  if (attempts == nullptr) return absl::OkStatus();
  for (size_t i = 0; i < attempts->size(); ++i) {
    QUANTD_ASSIGN_OR_RETURN(*result.add_attempts(),
                            ParseAttempt((*attempts)[i], i));
  }
  return absl::OkStatus();
}

absl::Status ParseError(const JsonFields& fields, EngineEvent& event) {
  const Json* code = fields.Find("code");
  if (code != nullptr && code->is_string()) {
    event.error.set_code(CanonicalCodeNumber(code->get<std::string>()));
  } else if (code != nullptr && code->is_number_unsigned() &&
             code->get<uint64_t>() <= 16) {
    event.error.set_code(static_cast<int>(code->get<uint64_t>()));
  } else {
    event.error.set_code(static_cast<int>(absl::StatusCode::kUnknown));
  }
  QUANTD_ASSIGN_OR_RETURN(*event.error.mutable_message(),
                          fields.String("message"));
  QUANTD_ASSIGN_OR_RETURN(*event.error.mutable_field(), fields.String("field"));
  return absl::OkStatus();
}

EngineEventType TypeOf(absl::string_view name) {
  if (name == "state") return EngineEventType::kState;
  if (name == "progress") return EngineEventType::kProgress;
  if (name == "log") return EngineEventType::kLog;
  if (name == "checkpoint") return EngineEventType::kCheckpoint;
  if (name == "artifact") return EngineEventType::kArtifact;
  if (name == "result") return EngineEventType::kResult;
  if (name == "error") return EngineEventType::kError;
  return EngineEventType::kUnknown;
}

absl::Status ParseBody(const JsonFields& fields, EngineEvent& event) {
  switch (event.type) {
    case EngineEventType::kState: {
      QUANTD_ASSIGN_OR_RETURN(event.state, fields.String("state"));
      return absl::OkStatus();
    }
    case EngineEventType::kProgress:
      return ParseProgress(fields, event);
    case EngineEventType::kLog: {
      QUANTD_ASSIGN_OR_RETURN(*event.log.mutable_level(),
                              fields.String("level"));
      QUANTD_ASSIGN_OR_RETURN(*event.log.mutable_message(),
                              fields.String("message"));
      return absl::OkStatus();
    }
    case EngineEventType::kCheckpoint:
    case EngineEventType::kArtifact:
      return ParseFile(fields, event, event.type_name);
    case EngineEventType::kResult:
      return ParseResult(fields, event);
    case EngineEventType::kError:
      return ParseError(fields, event);
    case EngineEventType::kUnknown:
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<EngineEvent> ParseEngineEvent(absl::string_view line) {
  Json object = Json::parse(line.begin(), line.end(), /*cb=*/nullptr,
                            /*allow_exceptions=*/false);
  if (object.is_discarded()) {
    return absl::InvalidArgumentError("engine event: not valid JSON");
  }
  if (!object.is_object()) {
    return absl::InvalidArgumentError("engine event: not a JSON object");
  }
  auto type = object.find("type");
  if (type == object.end() || !type->is_string()) {
    return InvalidFieldError("type", "must be a string");
  }
  EngineEvent event;
  event.type_name = type->get<std::string>();
  event.type = TypeOf(event.type_name);
  QUANTD_RETURN_IF_ERROR(ParseBody(JsonFields(object, event.type_name), event));
  return event;
}

absl::Status CheckCheckpointFileName(absl::string_view name,
                                     absl::string_view field) {
  constexpr absl::string_view kDir = "checkpoint/";
  constexpr size_t kMaxFileNameChars = 255;
  if (!absl::StartsWith(name, kDir)) {
    return InvalidFieldError(field, "must start with \"checkpoint/\"");
  }
  const absl::string_view file = name.substr(kDir.size());
  if (file.empty() || file.size() > kMaxFileNameChars || file == "." ||
      file == "..") {
    return InvalidFieldError(field,
                             "must name one file (1..255 characters) under "
                             "checkpoint/");
  }
  for (char c : file) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) {
      return InvalidFieldError(
          field,
          "may hold only letters, digits, '.', '_' and '-' after "
          "\"checkpoint/\"");
    }
  }
  return absl::OkStatus();
}

int CanonicalCodeNumber(absl::string_view name) {
  for (int code = 0; code <= 16; ++code) {
    if (absl::StatusCodeToString(static_cast<absl::StatusCode>(code)) == name) {
      return code;
    }
  }
  return static_cast<int>(absl::StatusCode::kUnknown);
}

std::string CanonicalCodeName(int code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

}  // namespace quantd::agent
