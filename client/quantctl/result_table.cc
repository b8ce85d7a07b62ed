#include "client/quantctl/result_table.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/quantctl/humanize.h"
#include "client/quantctl/job_json.h"
#include "client/quantctl/proto_names.h"
#include "client/quantctl/scheme_flags.h"
#include "client/quantctl/table.h"

namespace quantd::client {
namespace {

std::string MetricRow(const quantd::v1::JobResult& result) {
  Table table({"METRIC", "FP", "QUANTIZED", "DELTA", "DELTA %"});
  for (size_t column = 1; column < 5; ++column) table.AlignRight(column);
  const double delta = result.quantized_value() - result.fp_value();
  const auto percent =
      DeltaPercent(result.fp_value(), result.quantized_value());
  table.AddRow({result.metric().empty() ? "(none)" : result.metric(),
                absl::StrFormat("%.4f", result.fp_value()),
                absl::StrFormat("%.4f", result.quantized_value()),
                absl::StrFormat("%+.4f", delta),
                percent.is_null()
                    ? "n/a"
                    : absl::StrFormat("%+.2f%%", percent.get<double>())});
  return table.Render();
}

// A job with an accuracy target: every attempt in order.
std::string AttemptRows(const quantd::v1::JobResult& result) {
  if (result.attempts().empty()) return "";
  Table table({"ATTEMPT", "METHOD", "SCHEME",
               result.metric().empty() ? "VALUE"
                                       : absl::AsciiStrToUpper(result.metric()),
               "DELTA %", "TIME", "TARGET"});
  for (size_t column : {0, 3, 4, 5}) table.AlignRight(column);
  int index = 0;
  for (const quantd::v1::Attempt& attempt : result.attempts()) {
    const auto percent =
        DeltaPercent(result.fp_value(), attempt.quantized_value());
    table.AddRow({absl::StrCat(++index), attempt.method(), attempt.scheme(),
                  absl::StrFormat("%.4f", attempt.quantized_value()),
                  percent.is_null()
                      ? "n/a"
                      : absl::StrFormat("%+.2f%%", percent.get<double>()),
                  FormatDuration(attempt.wall_seconds()),
                  attempt.met_target() ? "met" : "missed"});
  }
  return table.Render();
}

std::string ArtifactRows(const quantd::v1::JobResult& result) {
  if (result.artifacts().empty()) return "Artifacts: none\n";
  Table table({"ARTIFACT", "KIND", "SIZE", "BLOB"});
  table.AlignRight(2);
  for (const auto& artifact : result.artifacts()) {
    table.AddRow({artifact.name(), artifact.kind(),
                  FormatBytes(artifact.size_bytes()), artifact.blob()});
  }
  return table.Render();
}

}  // namespace

std::string RenderResult(const quantd::v1::JobResult& result) {
  std::string out = MetricRow(result);
  if (result.eval_tokens() > 0) {
    absl::StrAppend(&out, "Evaluated on ", result.eval_tokens(),
                    " tokens, windows of ", result.eval_seq_len(), "\n");
  }
  absl::StrAppend(
      &out, "Time: ", FormatDuration(result.wall_seconds()),
      "   Peak host memory: ", FormatBytes(result.peak_host_memory_bytes()),
      "   Peak device memory: ", FormatBytes(result.peak_device_memory_bytes()),
      "\n");
  absl::StrAppend(&out, AttemptRows(result));
  absl::StrAppend(&out, ArtifactRows(result));
  return out;
}

std::string RenderOutcome(const quantd::v1::Job& job) {
  std::string out =
      absl::StrCat("Job ", job.id(), " ", StateName(job.state()), " (",
                   job.spec().method(), " ", SchemeSummary(job.spec().scheme()),
                   ", attempt ", job.attempt(), ")\n");
  if (job.state() == quantd::v1::JOB_STATE_SUCCEEDED || job.has_result()) {
    absl::StrAppend(&out, RenderResult(job.result()));
  }
  if (job.has_error()) {
    absl::StrAppend(&out, "Error: ", CodeName(job.error().code()), ": ",
                    job.error().message());
    if (!job.error().field().empty()) {
      absl::StrAppend(&out, " (field ", job.error().field(), ")");
    }
    absl::StrAppend(&out, "\n");
  }
  return out;
}

}  // namespace quantd::client
