// Conversions between the store's rows (opaque payload bytes) and the
// quantd.v1 messages, and the builders of the event bodies the scheduler
// appends. The store never parses a payload; only this file does.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "google/protobuf/timestamp.pb.h"
#include "quantd/v1/types.pb.h"
#include "server/store/records.h"

namespace quantd::scheduler {

google::protobuf::Timestamp ToTimestamp(int64_t ms);
int64_t ToMillis(const google::protobuf::Timestamp& timestamp);

quantd::v1::JobState ToProtoState(store::JobState state);
store::JobState FromProtoState(quantd::v1::JobState state);

// The full public view of a job (spec, progress, result, error parsed).
quantd::v1::Job JobToProto(const store::JobRecord& job);
// An event with its job id, sequence number and time filled in.
quantd::v1::JobEvent EventToProto(const store::EventRecord& event);
quantd::v1::Artifact ArtifactToProto(const store::ArtifactRecord& artifact);

// Serialised event bodies.
std::string StateChangePayload(store::JobState from, store::JobState to,
                               const std::string& reason, uint32_t attempt);
std::string TerminalPayload(const store::JobRecord& job);
std::string LogPayload(const std::string& level, const std::string& message);
std::string ArtifactPayload(const quantd::v1::Artifact& artifact);

// A serialised ErrorInfo.
std::string ErrorPayload(absl::StatusCode code, const std::string& message,
                         const std::string& field = "");

}  // namespace quantd::scheduler
