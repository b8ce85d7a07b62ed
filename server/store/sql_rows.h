// How the store's records map to SQL rows, for the store core: the column
// lists, a result row read into a record and a record written as statement
// parameters. Both backends share one table layout (their schemas differ
// only in column types), so the mapping is written once.
//
// Thread-safety: functions of their arguments only.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "server/store/records.h"
#include "server/store/sql_connection.h"

namespace quantd::store::internal {

// The jobs columns, in the order JobFromRow reads and JobParams binds them.
inline constexpr char kJobColumns[] =
    "id, tenant, request_id, state, priority, attempt, max_attempts, method, "
    "device, device_memory_bytes, host_memory_bytes, create_time_ms, "
    "start_time_ms, end_time_ms, queued_time_ms, not_before_ms, deadline_ms, "
    "worker_id, fencing_token, lease_expiry_ms, cancel_requested, "
    "cancel_deadline_ms, last_sequence, spec, progress, result, error";

// Likewise for workers.
inline constexpr char kWorkerColumns[] =
    "id, capabilities, device_kinds, device_memory_bytes, host_memory_bytes, "
    "methods, max_concurrent_jobs, registered_time_ms, last_seen_ms";

JobRecord JobFromRow(const SqlRow& row);
SqlParams JobParams(const JobRecord& job);
// Statements over JobParams: the INSERT of a new row, and the UPDATE of
// every column of the row whose id is $1.
const std::string& InsertJobSql();
const std::string& UpdateJobSql();

WorkerRecord WorkerFromRow(const SqlRow& row);
SqlParams WorkerParams(const WorkerRecord& worker);

// Integer columns are signed 64-bit in both databases; unsigned fields are
// stored as their two's-complement bits and read back the same way.
inline int64_t ToColumn(uint64_t value) { return static_cast<int64_t>(value); }
inline uint64_t FromColumn(int64_t value) {
  return static_cast<uint64_t>(value);
}

// "$first, $first+1, ..." for `count` parameters.
std::string Markers(size_t first, size_t count);

// ",a,b," for {a, b} ("" for none), the form SqlDialect::ListContains
// searches.
std::string CommaList(const std::vector<std::string>& items);

}  // namespace quantd::store::internal
