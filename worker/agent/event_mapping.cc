#include "worker/agent/event_mapping.h"

namespace quantd::agent {

std::optional<quantd::v1::JobEvent> ToJobEvent(const EngineEvent& event) {
  quantd::v1::JobEvent job_event;
  switch (event.type) {
    case EngineEventType::kState: {
      if (event.state != "running") return std::nullopt;
      quantd::v1::StateChange* change = job_event.mutable_state_change();
      change->set_from(quantd::v1::JOB_STATE_LEASED);
      change->set_to(quantd::v1::JOB_STATE_RUNNING);
      change->set_reason("engine started");
      return job_event;
    }
    case EngineEventType::kProgress:
      *job_event.mutable_progress() = event.progress;
      return job_event;
    case EngineEventType::kLog:
      *job_event.mutable_log() = event.log;
      return job_event;
    default:
      return std::nullopt;
  }
}

bool IsDroppable(const EngineEvent& event) {
  if (event.type == EngineEventType::kProgress) return true;
  if (event.type == EngineEventType::kLog) {
    const std::string& level = event.log.level();
    return level == "debug" || level == "info" || level.empty();
  }
  return false;
}

}  // namespace quantd::agent
