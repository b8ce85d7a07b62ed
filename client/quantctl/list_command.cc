#include "client/quantctl/list_command.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "client/quantctl/flag_values.h"
#include "client/quantctl/job_calls.h"
#include "client/quantctl/job_json.h"
#include "client/quantctl/job_view.h"
#include "client/quantctl/proto_names.h"
#include "common/status.h"

namespace quantd::client {
namespace {

constexpr int64_t kMaxPageSize = 1000;

struct ListFlags {
  std::vector<std::string> states;
  std::vector<std::string> labels;
  std::string limit = "50";
  std::string page_token;
  std::string order = "desc";
  std::string tenant;
};

struct ListPlan {
  quantd::v1::ListJobsRequest request;
  int64_t limit = 0;
};

absl::StatusOr<ListPlan> BuildListPlan(const ListFlags& flags) {
  ListPlan plan;
  for (const std::string& text : flags.states) {
    QUANTD_ASSIGN_OR_RETURN(auto state, ParseState(text, "--state"));
    plan.request.add_states(state);
  }
  QUANTD_ASSIGN_OR_RETURN(auto labels, ParseLabels(flags.labels, "--label"));
  plan.request.mutable_labels()->insert(labels.begin(), labels.end());
  QUANTD_ASSIGN_OR_RETURN(plan.limit,
                          ParseIntFlag(flags.limit, "--limit", 1, 1000000));
  if (flags.order != "asc" && flags.order != "desc") {
    return InvalidFieldError(
        "--order", "must be asc or desc, got \"" + flags.order + "\"");
  }
  plan.request.set_order_by("create_time " + flags.order);
  plan.request.set_page_token(flags.page_token);
  plan.request.set_tenant(flags.tenant);
  return plan;
}

// Pages until `limit` jobs or the last page; each page asks for no more
// than what is left, so the returned token resumes exactly after the last
// job shown.
absl::StatusOr<quantd::v1::ListJobsResponse> FetchJobs(Connection& connection,
                                                       ListPlan plan) {
  quantd::v1::ListJobsResponse all;
  while (true) {
    const int64_t left = plan.limit - all.jobs_size();
    plan.request.set_page_size(
        static_cast<uint32_t>(std::min(left, kMaxPageSize)));
    QUANTD_ASSIGN_OR_RETURN(auto page, CallListJobs(connection, plan.request));
    for (auto& job : *page.mutable_jobs()) *all.add_jobs() = std::move(job);
    all.set_next_page_token(page.next_page_token());
    if (page.next_page_token().empty() || all.jobs_size() >= plan.limit ||
        page.jobs_size() == 0) {
      return all;
    }
    plan.request.set_page_token(page.next_page_token());
  }
}

ExitCode RunList(CommandContext& context, const ListFlags& flags) {
  auto plan = BuildListPlan(flags);
  if (!plan.ok()) return context.Fail(plan.status());
  auto connection = context.Connect();
  if (!connection.ok()) return context.Fail(connection.status());
  auto jobs = FetchJobs(**connection, *plan);
  if (!jobs.ok()) return context.Fail(jobs.status());
  if (context.output() == OutputFormat::kTable) {
    context.io().out << RenderJobsTable(
        {jobs->jobs().begin(), jobs->jobs().end()});
    if (!jobs->next_page_token().empty()) {
      context.io().err << "More jobs: --page-token " << jobs->next_page_token()
                       << "\n";
    }
  } else {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& job : jobs->jobs()) list.push_back(JobToJson(job));
    const nlohmann::json document = {
        {"jobs", list}, {"next_page_token", jobs->next_page_token()}};
    context.io().out << RenderDocument(document, context.output());
  }
  context.io().out << std::flush;
  return ExitCode::kSuccess;
}

}  // namespace

Command AddListCommand(CLI::App& parent) {
  auto flags = std::make_shared<ListFlags>();
  CLI::App* app = parent.add_subcommand("list", "list jobs, newest first");
  app->alias("ls");
  app->add_option("--state", flags->states,
                  "only jobs in this state (queued, leased, running, "
                  "succeeded, failed, cancelled), repeatable")
      ->allow_extra_args(false);
  app->add_option("--label", flags->labels,
                  "only jobs with this label k=v, repeatable")
      ->allow_extra_args(false);
  app->add_option("--limit", flags->limit, "at most this many jobs (50)");
  app->add_option("--page-token", flags->page_token,
                  "continue after a previous listing");
  app->add_option("--order", flags->order, "desc (newest first) or asc");
  app->add_option("--tenant", flags->tenant, "another tenant's jobs (admin)");
  return {app, [flags](CommandContext& context) {
            return RunList(context, *flags);
          }};
}

}  // namespace quantd::client
