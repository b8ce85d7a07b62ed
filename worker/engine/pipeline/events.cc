#include "worker/engine/pipeline/events.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "worker/engine/pipeline/figure_json.h"

namespace quantd::engine::pipeline {

void EventSink::Emit(const nlohmann::json& event) {
  if (fd_ < 0) return;
  // Replace invalid UTF-8 rather than throwing from an error path.
  std::string line =
      event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
      "\n";
  const char* data = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t written = ::write(fd_, data, left);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return;  // The reader is gone; nothing to tell it.
    data += written;
    left -= static_cast<size_t>(written);
  }
}

void EventSink::State(const std::string& state) {
  Emit({{"type", "state"}, {"state", state}});
}

void EventSink::Progress(const ProgressEvent& progress) {
  Emit({{"type", "progress"},
        {"stage", progress.stage},
        {"block_index", progress.block_index},
        {"block_count", progress.block_count},
        {"fraction", progress.fraction},
        {"eta_seconds", progress.eta_seconds},
        {"layers", FiguresToJson(progress.layers)}});
  std::fprintf(stderr, "[progress] %s %lld/%lld %.1f%% eta %.0fs\n",
               progress.stage.c_str(),
               static_cast<long long>(progress.block_index + 1),
               static_cast<long long>(progress.block_count),
               100.0 * progress.fraction, progress.eta_seconds);
}

void EventSink::Log(const std::string& level, const std::string& message) {
  Emit({{"type", "log"}, {"level", level}, {"message", message}});
  std::fprintf(stderr, "[%s] %s\n", level.c_str(), message.c_str());
}

void EventSink::Checkpoint(int64_t block_index, const std::string& part,
                           const std::string& name,
                           const exporting::WrittenFile& file) {
  Emit({{"type", "checkpoint"},
        {"part", part},
        {"block_index", block_index},
        {"name", name},
        {"path", file.path.string()},
        {"sha256", file.sha256},
        {"size_bytes", file.size_bytes}});
}

void EventSink::Artifact(const std::string& name, const std::string& kind,
                         const exporting::WrittenFile& file) {
  Emit({{"type", "artifact"},
        {"name", name},
        {"path", file.path.string()},
        {"kind", kind},
        {"sha256", file.sha256},
        {"size_bytes", file.size_bytes}});
  std::fprintf(stderr, "[artifact] %s (%s, %llu bytes)\n", name.c_str(),
               kind.c_str(), static_cast<unsigned long long>(file.size_bytes));
}

nlohmann::json AttemptsJson(const std::vector<AttemptEvent>& attempts) {
  nlohmann::json list = nlohmann::json::array();
  for (const AttemptEvent& attempt : attempts) {
    list.push_back({{"method", attempt.method},
                    {"scheme", attempt.scheme},
                    {"quantized_value", attempt.quantized_value},
                    {"wall_seconds", attempt.wall_seconds},
                    {"met_target", attempt.met_target}});
  }
  return list;
}

void EventSink::Result(const ResultEvent& result) {
  nlohmann::json event = {
      {"type", "result"},
      {"metric", result.metric},
      {"fp_value", result.fp_value},
      {"quantized_value", result.quantized_value},
      {"eval_tokens", result.eval_tokens},
      {"eval_seq_len", result.eval_seq_len},
      {"wall_seconds", result.wall_seconds},
      {"peak_host_memory_bytes", result.peak_host_memory_bytes},
      {"peak_device_memory_bytes", result.peak_device_memory_bytes}};
  if (!result.attempts.empty()) {
    event["attempts"] = AttemptsJson(result.attempts);
  }
  Emit(event);
  std::fprintf(stderr, "[result] %s fp %.4f quantized %.4f (%lld tokens)\n",
               result.metric.c_str(), result.fp_value, result.quantized_value,
               static_cast<long long>(result.eval_tokens));
}

void EventSink::Error(const std::string& code, const std::string& message,
                      const std::string& field) {
  Emit({{"type", "error"},
        {"code", code},
        {"message", message},
        {"field", field}});
  std::fprintf(stderr, "[error] %s: %s\n", code.c_str(), message.c_str());
}

}  // namespace quantd::engine::pipeline
