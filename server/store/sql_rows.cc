#include "server/store/sql_rows.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace quantd::store::internal {
namespace {

constexpr size_t kJobColumnCount = 27;

// Lists are stored as "a,b" (no element holds a comma).
std::vector<std::string> SplitList(const std::string& text) {
  return absl::StrSplit(text, ',', absl::SkipEmpty());
}

}  // namespace

JobRecord JobFromRow(const SqlRow& row) {
  JobRecord job;
  job.id = row.Text(0);
  job.tenant = row.Text(1);
  job.request_id = row.Text(2);
  job.state = static_cast<JobState>(row.Int(3));
  job.priority = static_cast<int32_t>(row.Int(4));
  job.attempt = static_cast<uint32_t>(row.Int(5));
  job.max_attempts = static_cast<uint32_t>(row.Int(6));
  job.method = row.Text(7);
  job.device = row.Text(8);
  job.device_memory_bytes = FromColumn(row.Int(9));
  job.host_memory_bytes = FromColumn(row.Int(10));
  job.create_time_ms = row.Int(11);
  job.start_time_ms = row.Int(12);
  job.end_time_ms = row.Int(13);
  job.queued_time_ms = row.Int(14);
  job.not_before_ms = row.Int(15);
  job.deadline_ms = row.Int(16);
  job.worker_id = row.Text(17);
  job.fencing_token = FromColumn(row.Int(18));
  job.lease_expiry_ms = row.Int(19);
  job.cancel_requested = row.Int(20) != 0;
  job.cancel_deadline_ms = row.Int(21);
  job.last_sequence = FromColumn(row.Int(22));
  job.spec = row.Bytes(23);
  job.progress = row.Bytes(24);
  job.result = row.Bytes(25);
  job.error = row.Bytes(26);
  return job;
}

SqlParams JobParams(const JobRecord& job) {
  SqlParams p;
  p.Add(job.id).Add(job.tenant).Add(job.request_id);
  p.Add(static_cast<int64_t>(job.state)).Add(job.priority);
  p.Add(job.attempt).Add(job.max_attempts).Add(job.method);
  p.Add(job.device).Add(ToColumn(job.device_memory_bytes));
  p.Add(ToColumn(job.host_memory_bytes)).Add(job.create_time_ms);
  p.Add(job.start_time_ms).Add(job.end_time_ms).Add(job.queued_time_ms);
  p.Add(job.not_before_ms).Add(job.deadline_ms).Add(job.worker_id);
  p.Add(ToColumn(job.fencing_token)).Add(job.lease_expiry_ms);
  p.Add(job.cancel_requested ? 1 : 0).Add(job.cancel_deadline_ms);
  p.Add(ToColumn(job.last_sequence)).AddBytes(job.spec);
  p.AddBytes(job.progress).AddBytes(job.result).AddBytes(job.error);
  return p;
}

const std::string& InsertJobSql() {
  static const auto* sql = new std::string(
      absl::StrCat("INSERT INTO jobs (", kJobColumns, ") VALUES (",
                   Markers(1, kJobColumnCount), ")"));
  return *sql;
}

const std::string& UpdateJobSql() {
  static const auto* sql = [] {
    std::vector<std::string> columns = absl::StrSplit(kJobColumns, ", ");
    std::vector<std::string> sets;
    for (size_t i = 1; i < columns.size(); ++i) {
      sets.push_back(absl::StrCat(columns[i], " = $", i + 1));
    }
    return new std::string(absl::StrCat(
        "UPDATE jobs SET ", absl::StrJoin(sets, ", "), " WHERE id = $1"));
  }();
  return *sql;
}

WorkerRecord WorkerFromRow(const SqlRow& row) {
  WorkerRecord worker;
  worker.id = row.Text(0);
  worker.capabilities = row.Bytes(1);
  worker.device_kinds = SplitList(row.Text(2));
  worker.device_memory_bytes = FromColumn(row.Int(3));
  worker.host_memory_bytes = FromColumn(row.Int(4));
  worker.methods = SplitList(row.Text(5));
  worker.max_concurrent_jobs = static_cast<uint32_t>(row.Int(6));
  worker.registered_time_ms = row.Int(7);
  worker.last_seen_ms = row.Int(8);
  return worker;
}

SqlParams WorkerParams(const WorkerRecord& worker) {
  SqlParams p;
  p.Add(worker.id).AddBytes(worker.capabilities);
  p.Add(absl::StrJoin(worker.device_kinds, ","));
  p.Add(ToColumn(worker.device_memory_bytes));
  p.Add(ToColumn(worker.host_memory_bytes));
  p.Add(absl::StrJoin(worker.methods, ",")).Add(worker.max_concurrent_jobs);
  p.Add(worker.registered_time_ms).Add(worker.last_seen_ms);
  return p;
}

std::string Markers(size_t first, size_t count) {
  std::string out;
  for (size_t i = 0; i < count; ++i) {
    absl::StrAppend(&out, i ? ", $" : "$", first + i);
  }
  return out;
}

std::string CommaList(const std::vector<std::string>& items) {
  if (items.empty()) return "";
  return absl::StrCat(",", absl::StrJoin(items, ","), ",");
}

}  // namespace quantd::store::internal
