// The rows a JobStore keeps: jobs, their events, artifacts, workers and
// blobs. Plain structs with no gRPC or protobuf types: payloads the store
// does not interpret (the job spec, progress, results, event bodies and
// worker capabilities) travel as opaque serialized bytes, so any backend can
// hold them in a BLOB/BYTEA column.
//
// Times are milliseconds since the Unix epoch; 0 means "unset".
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace quantd::store {

// Numbered like quantd.v1.JobState so the values can be cast across.
enum class JobState : int {
  kUnspecified = 0,
  kQueued = 1,
  kLeased = 2,
  kRunning = 3,
  kSucceeded = 4,
  kFailed = 5,
  kCancelled = 6,
};

bool IsTerminal(JobState state);
// True for LEASED and RUNNING: a worker holds the job.
bool IsHeld(JobState state);
const char* JobStateName(JobState state);

struct JobRecord {
  // "j-" + ULID; sorts by creation time, so it is also the FIFO order.
  std::string id;
  std::string tenant;
  // Idempotency key, unique per tenant.
  std::string request_id;
  JobState state = JobState::kQueued;
  // Higher runs first.
  int32_t priority = 0;
  // 1 for the first run.
  uint32_t attempt = 1;
  uint32_t max_attempts = 3;
  // Placement keys, copied out of the spec and the pre-flight estimate so a
  // claim can filter in SQL: the method, the required device kind ("" for
  // any) and the estimated peak memory.
  std::string method;
  std::string device;
  uint64_t device_memory_bytes = 0;
  uint64_t host_memory_bytes = 0;
  int64_t create_time_ms = 0;
  // First lease of the first attempt, and the terminal transition.
  int64_t start_time_ms = 0;
  int64_t end_time_ms = 0;
  // Time the job entered the queue (submit or requeue), for wait metrics.
  int64_t queued_time_ms = 0;
  // Not claimable before this time (requeue backoff).
  int64_t not_before_ms = 0;
  // The job is cancelled when not finished by then; 0 = none.
  int64_t deadline_ms = 0;
  // Lease holder while LEASED or RUNNING.
  std::string worker_id;
  // Grows by one on every lease; calls under a lease must present it.
  uint64_t fencing_token = 0;
  int64_t lease_expiry_ms = 0;
  bool cancel_requested = false;
  // A held job that was asked to cancel is forced to CANCELLED then.
  int64_t cancel_deadline_ms = 0;
  // Sequence number of the newest event; maintained by the store.
  uint64_t last_sequence = 0;
  // Opaque serialized payloads (quantd.v1 messages, owned by the scheduler).
  std::string spec;
  std::string progress;
  std::string result;
  std::string error;
  std::map<std::string, std::string> labels;
  // Blob hex digests the spec refers to (model, datasets): kept from GC.
  std::vector<std::string> input_blobs;
};

// One entry in a job's event log.
struct EventRecord {
  std::string job_id;
  // 1, 2, 3, ... per job, with no gaps.
  uint64_t sequence = 0;
  int64_t time_ms = 0;
  // Opaque serialized event body.
  std::string payload;
};

struct ArtifactRecord {
  std::string job_id;
  // Unique inside the job.
  std::string name;
  // 64 lowercase hex digits of the blob's sha256.
  std::string blob;
  uint64_t size_bytes = 0;
  std::string kind;
  int64_t create_time_ms = 0;
};

struct WorkerRecord {
  std::string id;
  // Opaque serialized capabilities, returned as given.
  std::string capabilities;
  // Placement keys: device kinds offered ("cuda", "cpu"), the largest
  // device memory, the host memory, the methods (empty: any) and how many
  // jobs the worker runs at once.
  std::vector<std::string> device_kinds;
  uint64_t device_memory_bytes = 0;
  uint64_t host_memory_bytes = 0;
  std::vector<std::string> methods;
  uint32_t max_concurrent_jobs = 1;
  int64_t registered_time_ms = 0;
  int64_t last_seen_ms = 0;
};

struct BlobRecord {
  // 64 lowercase hex digits.
  std::string blob;
  uint64_t size_bytes = 0;
  std::string kind;
  int64_t create_time_ms = 0;
};

}  // namespace quantd::store
