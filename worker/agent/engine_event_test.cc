#include "worker/agent/engine_event.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/agent/event_mapping.h"

namespace quantd::agent {
namespace {

using ::testing::HasSubstr;

constexpr char kHex[] =
    "4dacebfaea52e68c32e54ec87ca819a2e255a96ea6ea728caa7d520bb0d502db";

TEST(EngineEventTest, ParsesProgressWithLayers) {
  auto event = ParseEngineEvent(
      R"({"type":"progress","stage":"quantize","block_index":3,)"
      R"("block_count":30,"fraction":0.25,"eta_seconds":12.5,)"
      R"("layers":[{"name":"blocks.3.qkv","loss_before":2.5,)"
      R"("loss_after":1.25,"threshold":0.75,"scale_min":0.5,)"
      R"("scale_max":8,"scale_mean":2}]})");
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->type, EngineEventType::kProgress);
  EXPECT_EQ(event->progress.stage(), "quantize");
  EXPECT_EQ(event->progress.block_index(), 3u);
  EXPECT_EQ(event->progress.block_count(), 30u);
  EXPECT_DOUBLE_EQ(event->progress.fraction(), 0.25);
  EXPECT_DOUBLE_EQ(event->progress.eta_seconds(), 12.5);
  ASSERT_EQ(event->progress.layers_size(), 1);
  const auto& layer = event->progress.layers(0);
  EXPECT_EQ(layer.name(), "blocks.3.qkv");
  EXPECT_DOUBLE_EQ(layer.loss_before(), 2.5);
  EXPECT_DOUBLE_EQ(layer.loss_after(), 1.25);
  EXPECT_DOUBLE_EQ(layer.threshold(), 0.75);
  EXPECT_DOUBLE_EQ(layer.scale_min(), 0.5);
  EXPECT_DOUBLE_EQ(layer.scale_max(), 8);
  EXPECT_DOUBLE_EQ(layer.scale_mean(), 2);
}

TEST(EngineEventTest, MissingEtaMeansUnknownAndFractionIsClamped) {
  auto event = ParseEngineEvent(R"({"type":"progress","fraction":1.0000001})");
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_DOUBLE_EQ(event->progress.fraction(), 1.0);
  EXPECT_LT(event->progress.eta_seconds(), 0);
}

TEST(EngineEventTest, ParsesCheckpointPartsAndArtifact) {
  auto block = ParseEngineEvent(absl::StrCat(
      R"({"type":"checkpoint","part":"block","block_index":4,)",
      R"("name":"checkpoint/block-00004.safetensors","path":"c.st",)",
      R"("size_bytes":24,"sha256":")", kHex, R"("})"));
  ASSERT_TRUE(block.ok()) << block.status();
  EXPECT_EQ(block->type, EngineEventType::kCheckpoint);
  EXPECT_EQ(block->file.part, CheckpointPart::kBlock);
  EXPECT_EQ(block->file.name, "checkpoint/block-00004.safetensors");
  EXPECT_EQ(block->file.kind, "checkpoint");
  EXPECT_EQ(block->file.block_index, 4u);
  EXPECT_EQ(block->file.sha256_hex, kHex);
  EXPECT_EQ(block->file.size_bytes, 24u);

  auto streams = ParseEngineEvent(absl::StrCat(
      R"({"type":"checkpoint","part":"streams","block_index":4,)",
      R"("name":"checkpoint/streams.safetensors","path":"/w/s.st",)",
      R"("size_bytes":48,"sha256":")", kHex, R"("})"));
  ASSERT_TRUE(streams.ok()) << streams.status();
  EXPECT_EQ(streams->file.part, CheckpointPart::kStreams);
  EXPECT_EQ(streams->file.name, "checkpoint/streams.safetensors");
  EXPECT_EQ(streams->file.kind, "checkpoint");
  EXPECT_EQ(streams->file.block_index, 4u);

  auto artifact = ParseEngineEvent(absl::StrCat(
      R"({"type":"artifact","name":"report.json","path":"/w/report.json",)",
      R"("kind":"report","size_bytes":7,"sha256":"sha256:)", kHex, R"("})"));
  ASSERT_TRUE(artifact.ok()) << artifact.status();
  EXPECT_EQ(artifact->file.part, CheckpointPart::kNone);
  EXPECT_EQ(artifact->file.name, "report.json");
  EXPECT_EQ(artifact->file.path, "/w/report.json");
  EXPECT_EQ(artifact->file.kind, "report");
  EXPECT_EQ(artifact->file.sha256_hex, kHex);
}

TEST(EngineEventTest, RejectsCheckpointsWithoutAPartOrAPlainName) {
  auto line = [](absl::string_view part, absl::string_view name) {
    return absl::StrCat(R"({"type":"checkpoint",)", part, R"("name":")", name,
                        R"(","path":"c.st","sha256":")", kHex, R"("})");
  };
  const std::string good = "checkpoint/block-00001.safetensors";
  struct Case {
    std::string line;
    const char* field;
  };
  const Case cases[] = {
      {line("", good), "checkpoint.part"},
      {line(R"("part":"tensors",)", good), "checkpoint.part"},
      {line(R"("part":3,)", good), "checkpoint.part"},
      {line(R"("part":"block",)", ""), "checkpoint.name"},
      {line(R"("part":"block",)", "checkpoint"), "checkpoint.name"},
      {line(R"("part":"block",)", "checkpoint/"), "checkpoint.name"},
      {line(R"("part":"block",)", "checkpoint/.."), "checkpoint.name"},
      {line(R"("part":"block",)", "checkpoint/."), "checkpoint.name"},
      {line(R"("part":"block",)", "checkpoint/a/b"), "checkpoint.name"},
      {line(R"("part":"streams",)", "checkpoint/../spec.json"),
       "checkpoint.name"},
      {line(R"("part":"streams",)", "/checkpoint/s"), "checkpoint.name"},
      {line(R"("part":"streams",)", "model/s.safetensors"), "checkpoint.name"},
      {line(R"("part":"streams",)", "checkpoint/s t"), "checkpoint.name"},
      {line(R"("part":"streams",)", "checkpoint/" + std::string(256, 'a')),
       "checkpoint.name"},
  };
  for (const Case& c : cases) {
    auto event = ParseEngineEvent(c.line);
    ASSERT_FALSE(event.ok()) << c.line;
    EXPECT_EQ(event.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(FieldOfError(event.status()), c.field) << c.line;
  }
  EXPECT_TRUE(ParseEngineEvent(line(R"("part":"streams",)",
                                    "checkpoint/" + std::string(255, 'a')))
                  .ok());
  EXPECT_TRUE(CheckCheckpointFileName("checkpoint/..a", "f").ok());
}

TEST(EngineEventTest, ParsesResultAndError) {
  auto result = ParseEngineEvent(
      R"({"type":"result","metric":"perplexity","fp_value":10.5,)"
      R"("quantized_value":11.25,"eval_tokens":4096,"eval_seq_len":512,)"
      R"("wall_seconds":1.5,"peak_host_memory_bytes":1048576,)"
      R"("peak_device_memory_bytes":2048})");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->result.metric(), "perplexity");
  EXPECT_DOUBLE_EQ(result->result.fp_value(), 10.5);
  EXPECT_DOUBLE_EQ(result->result.quantized_value(), 11.25);
  EXPECT_EQ(result->result.eval_tokens(), 4096u);
  EXPECT_EQ(result->result.eval_seq_len(), 512u);
  EXPECT_EQ(result->result.peak_host_memory_bytes(), 1048576u);
  EXPECT_EQ(result->result.peak_device_memory_bytes(), 2048u);
  EXPECT_EQ(result->result.attempts_size(), 0);

  auto attempts = ParseEngineEvent(
      R"({"type":"result","metric":"perplexity","fp_value":10.5,)"
      R"("quantized_value":10.6,"attempts":[)"
      R"({"method":"rtn","scheme":"w8a8","quantized_value":11.5,)"
      R"("wall_seconds":2.5,"met_target":false},)"
      R"({"method":"osplus+gptq","scheme":"w8a8","quantized_value":10.6,)"
      R"("wall_seconds":9,"met_target":true}]})");
  ASSERT_TRUE(attempts.ok()) << attempts.status();
  ASSERT_EQ(attempts->result.attempts_size(), 2);
  EXPECT_EQ(attempts->result.attempts(0).method(), "rtn");
  EXPECT_FALSE(attempts->result.attempts(0).met_target());
  EXPECT_DOUBLE_EQ(attempts->result.attempts(0).wall_seconds(), 2.5);
  EXPECT_EQ(attempts->result.attempts(1).method(), "osplus+gptq");
  EXPECT_TRUE(attempts->result.attempts(1).met_target());
  auto bad =
      ParseEngineEvent(R"({"type":"result","metric":"perplexity","attempts":[)"
                       R"({"method":"rtn","met_target":"yes"}]})");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()),
              ::testing::HasSubstr("result.attempts[0].met_target"));

  auto error = ParseEngineEvent(
      R"({"type":"error","code":"INVALID_ARGUMENT","message":"bad bits",)"
      R"("field":"scheme.weights.bits"})");
  ASSERT_TRUE(error.ok()) << error.status();
  EXPECT_EQ(error->error.code(), 3);
  EXPECT_EQ(error->error.message(), "bad bits");
  EXPECT_EQ(error->error.field(), "scheme.weights.bits");
}

TEST(EngineEventTest, MapsCanonicalCodeNames) {
  EXPECT_EQ(CanonicalCodeNumber("RESOURCE_EXHAUSTED"), 8);
  EXPECT_EQ(CanonicalCodeNumber("INTERNAL"), 13);
  EXPECT_EQ(CanonicalCodeNumber("NOT_FOUND"), 5);
  EXPECT_EQ(CanonicalCodeNumber("no such code"), 2);
  EXPECT_EQ(CanonicalCodeName(8), "RESOURCE_EXHAUSTED");
  auto unknown = ParseEngineEvent(R"({"type":"error","code":"OOPS"})");
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->error.code(), 2);
}

TEST(EngineEventTest, IgnoresUnknownTypesAndFields) {
  auto future = ParseEngineEvent(R"({"type":"telemetry","watts":300})");
  ASSERT_TRUE(future.ok()) << future.status();
  EXPECT_EQ(future->type, EngineEventType::kUnknown);
  EXPECT_EQ(future->type_name, "telemetry");
  auto log = ParseEngineEvent(
      R"({"type":"log","level":"warn","message":"hi","color":"red"})");
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(log->log.level(), "warn");
  EXPECT_EQ(log->log.message(), "hi");
}

TEST(EngineEventTest, RejectsMalformedLines) {
  struct Case {
    const char* line;
    const char* expected;
  };
  const Case cases[] = {
      {"not json", "not valid JSON"},
      {R"(["progress"])", "not a JSON object"},
      {R"({"stage":"load"})", "type"},
      {R"({"type":7})", "type"},
      {R"({"type":"progress","block_index":-4})", "progress.block_index"},
      {R"({"type":"progress","block_count":4294967296})",
       "progress.block_count"},
      {R"({"type":"progress","fraction":"half"})", "progress.fraction"},
      {R"({"type":"progress","layers":{}})", "progress.layers"},
      {R"({"type":"progress","layers":[3]})", "progress.layers[0]"},
      {R"({"type":"log","message":["a"]})", "log.message"},
      {R"({"type":"artifact","name":"a","path":"p","sha256":"abc"})",
       "artifact.sha256"},
      {R"({"type":"artifact","name":"a","sha256":"sha256:4dacebfaea52e68c32e54ec87ca819a2e255a96ea6ea728caa7d520bb0d502db"})",
       "artifact.path"},
      {R"({"type":"result","eval_tokens":1.5})", "result.eval_tokens"},
  };
  for (const Case& c : cases) {
    auto event = ParseEngineEvent(c.line);
    ASSERT_FALSE(event.ok()) << c.line;
    EXPECT_EQ(event.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(event.status().message()), HasSubstr(c.expected))
        << c.line;
  }
}

TEST(EventMappingTest, MapsStateProgressAndLog) {
  EngineEvent state;
  state.type = EngineEventType::kState;
  state.state = "running";
  auto mapped = ToJobEvent(state);
  ASSERT_TRUE(mapped.has_value());
  EXPECT_EQ(mapped->state_change().from(), quantd::v1::JOB_STATE_LEASED);
  EXPECT_EQ(mapped->state_change().to(), quantd::v1::JOB_STATE_RUNNING);
  EXPECT_TRUE(mapped->job_id().empty());
  EXPECT_EQ(mapped->sequence(), 0u);

  state.state = "paused";
  EXPECT_FALSE(ToJobEvent(state).has_value());

  EngineEvent progress;
  progress.type = EngineEventType::kProgress;
  progress.progress.set_block_index(5);
  ASSERT_TRUE(ToJobEvent(progress).has_value());
  EXPECT_EQ(ToJobEvent(progress)->progress().block_index(), 5u);

  EngineEvent log;
  log.type = EngineEventType::kLog;
  log.log.set_message("hello");
  EXPECT_EQ(ToJobEvent(log)->log().message(), "hello");

  for (EngineEventType type :
       {EngineEventType::kCheckpoint, EngineEventType::kArtifact,
        EngineEventType::kResult, EngineEventType::kError,
        EngineEventType::kUnknown}) {
    EngineEvent other;
    other.type = type;
    EXPECT_FALSE(ToJobEvent(other).has_value());
  }
}

TEST(EventMappingTest, OnlyProgressAndQuietLogsAreDroppable) {
  EngineEvent event;
  event.type = EngineEventType::kProgress;
  EXPECT_TRUE(IsDroppable(event));
  event.type = EngineEventType::kLog;
  event.log.set_level("info");
  EXPECT_TRUE(IsDroppable(event));
  event.log.set_level("warn");
  EXPECT_FALSE(IsDroppable(event));
  event.log.set_level("error");
  EXPECT_FALSE(IsDroppable(event));
  for (EngineEventType type :
       {EngineEventType::kState, EngineEventType::kCheckpoint,
        EngineEventType::kArtifact, EngineEventType::kResult,
        EngineEventType::kError}) {
    event.type = type;
    EXPECT_FALSE(IsDroppable(event));
  }
}

}  // namespace
}  // namespace quantd::agent
