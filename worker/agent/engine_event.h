// EngineEvent: one line of quantd-engine's JSON-lines event stream, parsed
// and validated (docs/formats/engine-protocol.md). Payloads that have a
// quantd.v1 counterpart are parsed straight into it. Unknown event types
// and unknown fields are accepted and ignored (forward compatibility); a
// known field of the wrong type, a negative count or a malformed hash is an
// InvalidArgument naming the field, because the line comes from another
// program.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "quantd/v1/types.pb.h"

namespace quantd::agent {

enum class EngineEventType {
  kState,
  kProgress,
  kLog,
  kCheckpoint,
  kArtifact,
  kResult,
  kError,
  kUnknown,
};

// Which part of a block checkpoint a checkpoint event announces.
enum class CheckpointPart {
  // Not a checkpoint (a final artifact).
  kNone,
  // One block's results: written once, never changed afterwards.
  kBlock,
  // The calibration streams and the list of finished blocks: replaced after
  // every block; the commit point of a checkpoint.
  kStreams,
};

// A file the engine finished writing: a checkpoint part or a final artifact.
struct EngineFile {
  // Artifact name relative to the work dir. For checkpoint parts
  // "checkpoint/<file>" (see CheckCheckpointFileName).
  std::string name;
  // Where the engine wrote it (absolute, or relative to the work dir).
  std::string path;
  // "checkpoint", "model", "packed", "report", "manifest", "plot".
  std::string kind;
  // 64 lowercase hex digits.
  std::string sha256_hex;
  uint64_t size_bytes = 0;
  // Checkpoints: the block the part belongs to (a block file), or the last
  // finished block (the streams file).
  uint32_t block_index = 0;
  CheckpointPart part = CheckpointPart::kNone;
  // Set by the worker, never parsed: `path` is a private hard link of the
  // engine's file (JobWorkspace::PinCheckpoint), removed once it is done
  // with.
  bool pinned = false;
};

struct EngineEvent {
  EngineEventType type = EngineEventType::kUnknown;
  // The "type" string as sent (kept for logging unknown types).
  std::string type_name;
  // kState: the state as sent, e.g. "running".
  std::string state;
  quantd::v1::Progress progress;
  quantd::v1::LogLine log;
  // kCheckpoint and kArtifact.
  EngineFile file;
  quantd::v1::JobResult result;
  quantd::v1::ErrorInfo error;
};

// Parses one line (without its newline).
[[nodiscard]] absl::StatusOr<EngineEvent> ParseEngineEvent(
    absl::string_view line);

// OK when `name` is a checkpoint file's name as the engine may announce it
// and the worker may write it: "checkpoint/" and one path component of
// [A-Za-z0-9._-] (1..255 characters, not "." or ".."). Otherwise an
// InvalidArgument naming `field`.
[[nodiscard]] absl::Status CheckCheckpointFileName(absl::string_view name,
                                                   absl::string_view field);

// The google.rpc.Code number of a canonical code name ("INVALID_ARGUMENT"
// -> 3); UNKNOWN (2) for a name that is not canonical.
int CanonicalCodeNumber(absl::string_view name);

// The name of a google.rpc.Code number, e.g. 13 -> "INTERNAL".
std::string CanonicalCodeName(int code);

}  // namespace quantd::agent
