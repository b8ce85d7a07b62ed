#include "client/quantctl/job_view.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/quantctl/humanize.h"
#include "client/quantctl/proto_names.h"
#include "client/quantctl/result_table.h"
#include "client/quantctl/scheme_flags.h"
#include "client/quantctl/table.h"

namespace quantd::client {

std::string ShortDataRef(const quantd::v1::DataRef& ref) {
  if (ref.has_blob()) {
    const std::string& blob = ref.blob();
    return blob.size() > 19 ? blob.substr(0, 19) + "..." : blob;
  }
  if (!ref.has_uri()) return "";
  const std::string& uri = ref.uri();
  std::string trimmed = uri;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  const size_t slash = trimmed.find_last_of('/');
  return slash == std::string::npos ? trimmed : trimmed.substr(slash + 1);
}

std::string JobActivity(const quantd::v1::Job& job) {
  if (job.has_error()) {
    return absl::StrCat(CodeName(job.error().code()), ": ",
                        job.error().message());
  }
  if (job.state() == quantd::v1::JOB_STATE_SUCCEEDED && job.has_result()) {
    return absl::StrFormat("%s %.4g -> %.4g", job.result().metric(),
                           job.result().fp_value(),
                           job.result().quantized_value());
  }
  if (!job.has_progress() || job.progress().stage().empty()) {
    return job.cancel_requested() ? "cancel requested" : "";
  }
  const auto& progress = job.progress();
  std::string text = progress.stage();
  if (progress.block_count() > 0) {
    absl::StrAppend(&text, " ", progress.block_index() + 1, "/",
                    progress.block_count());
  }
  absl::StrAppend(&text, " ", FormatPercent(progress.fraction()));
  if (job.cancel_requested()) absl::StrAppend(&text, " (cancel requested)");
  return text;
}

std::string RenderJobsTable(const std::vector<quantd::v1::Job>& jobs) {
  Table table(
      {"ID", "STATE", "METHOD", "SCHEME", "MODEL", "ACTIVITY", "CREATED"});
  for (const auto& job : jobs) {
    table.AddRow({job.id(), StateName(job.state()), job.spec().method(),
                  SchemeSummary(job.spec().scheme()),
                  ShortDataRef(job.spec().model()), JobActivity(job),
                  FormatTimestamp(job.create_time())});
  }
  return table.Render();
}

std::string RenderJobDetail(const quantd::v1::Job& job) {
  Table table({});
  std::vector<std::string> labels;
  for (const auto& [key, value] : job.spec().labels()) {
    labels.push_back(absl::StrCat(key, "=", value));
  }
  std::sort(labels.begin(), labels.end());
  const auto& spec = job.spec();
  table.AddRow({"ID:", job.id()});
  table.AddRow({"State:", StateName(job.state())});
  table.AddRow({"Method:", spec.method()});
  table.AddRow({"Scheme:", SchemeSummary(spec.scheme())});
  table.AddRow({"Model:", spec.model().has_blob() ? spec.model().blob()
                                                  : spec.model().uri()});
  table.AddRow({"Priority:", absl::StrCat(spec.priority())});
  table.AddRow({"Labels:", absl::StrJoin(labels, ",")});
  table.AddRow({"Attempt:", absl::StrCat(job.attempt())});
  table.AddRow({"Worker:", job.worker_id()});
  table.AddRow({"Created:", FormatTimestamp(job.create_time())});
  table.AddRow({"Started:", FormatTimestamp(job.start_time())});
  table.AddRow({"Ended:", FormatTimestamp(job.end_time())});
  table.AddRow({"Activity:", JobActivity(job)});
  table.AddRow({"Request ID:", job.request_id()});
  std::string out = table.Render();
  if (job.has_result() || job.has_error()) {
    absl::StrAppend(&out, "\n", RenderOutcome(job));
  }
  return out;
}

}  // namespace quantd::client
