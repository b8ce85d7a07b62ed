// EventSink: the engine's side of the worker protocol
// (docs/formats/engine-protocol.md): one JSON object a line on a file
// descriptor (state, progress, log, checkpoint, artifact, result, error),
// and human-readable log lines on stderr.
//
// Ownership: does not own the descriptor. Not thread-safe (the pipeline
// emits from one thread).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "worker/engine/export/atomic_file.h"
#include "worker/engine/methods/method.h"

namespace quantd::engine::pipeline {

struct ProgressEvent {
  std::string stage;  // load, calibrate, quantize, evaluate, export
  int64_t block_index = 0;
  int64_t block_count = 0;
  double fraction = 0.0;
  double eta_seconds = -1.0;
  std::vector<methods::LayerFigure> layers;
};

// One attempt of a job with an accuracy target (quantd.v1.Attempt).
struct AttemptEvent {
  std::string method;
  std::string scheme;
  double quantized_value = 0.0;
  double wall_seconds = 0.0;
  bool met_target = false;
};

struct ResultEvent {
  std::string metric;  // "perplexity" or "cosine"; "" when skipped.
  double fp_value = 0.0;
  double quantized_value = 0.0;
  int64_t eval_tokens = 0;
  int64_t eval_seq_len = 0;
  double wall_seconds = 0.0;
  uint64_t peak_host_memory_bytes = 0;
  uint64_t peak_device_memory_bytes = 0;
  // Jobs with a target: every attempt, in order; empty otherwise.
  std::vector<AttemptEvent> attempts;
};

// The attempts as JSON (the result event's and the report's "attempts").
nlohmann::json AttemptsJson(const std::vector<AttemptEvent>& attempts);

class EventSink {
 public:
  // fd < 0: no JSON events (human logs only).
  explicit EventSink(int fd) : fd_(fd) {}

  void State(const std::string& state);
  void Progress(const ProgressEvent& progress);
  void Log(const std::string& level, const std::string& message);
  // One file of the block checkpoint: `part` "block" (written once) or
  // "streams" (replaced after every block; the commit point); `name` is
  // its path relative to the work dir.
  void Checkpoint(int64_t block_index, const std::string& part,
                  const std::string& name, const exporting::WrittenFile& file);
  void Artifact(const std::string& name, const std::string& kind,
                const exporting::WrittenFile& file);
  void Result(const ResultEvent& result);
  void Error(const std::string& code, const std::string& message,
             const std::string& field);

 private:
  void Emit(const nlohmann::json& event);

  int fd_;
};

}  // namespace quantd::engine::pipeline
