#include "client/quantctl/fetch_command.h"

#include <filesystem>
#include <memory>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/quantctl/grpc_streams.h"
#include "client/quantctl/humanize.h"
#include "client/quantctl/job_calls.h"
#include "client/quantctl/job_json.h"
#include "client/quantctl/resumable_download.h"
#include "client/quantctl/table.h"
#include "client/quantctl/transfer_progress.h"
#include "common/status.h"

namespace quantd::client {
namespace {

struct FetchFlags {
  std::string job_id;
  std::string dest = ".";
  std::vector<std::string> names;
  std::vector<std::string> kinds;
};

struct Fetched {
  quantd::v1::Artifact artifact;
  std::string path;
  std::string outcome;
};

bool Selected(const FetchFlags& flags, const quantd::v1::Artifact& artifact) {
  auto contains = [](const std::vector<std::string>& list,
                     const std::string& value) {
    return list.empty() ||
           std::find(list.begin(), list.end(), value) != list.end();
  };
  return contains(flags.names, artifact.name()) &&
         contains(flags.kinds, artifact.kind());
}

std::string OutcomeName(DownloadOutcome outcome) {
  switch (outcome) {
    case DownloadOutcome::kDownloaded:
      return "downloaded";
    case DownloadOutcome::kResumed:
      return "resumed";
    case DownloadOutcome::kAlreadyPresent:
      return "already_present";
  }
  return "downloaded";
}

absl::StatusOr<Fetched> FetchOne(CommandContext& context,
                                 Connection& connection,
                                 const FetchFlags& flags,
                                 const quantd::v1::Artifact& artifact) {
  QUANTD_ASSIGN_OR_RETURN(std::string path,
                          ArtifactPath(flags.dest, artifact.name()));
  std::error_code error;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(),
                                      error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot create the directory of ",
                                            path, ": ", error.message()));
  }
  TransferProgress progress(context.progress_stream(),
                            context.progress_terminal(), "download",
                            artifact.name());
  DownloadOptions options;
  options.on_progress = [&](uint64_t done, uint64_t total) {
    progress.Update(done, total);
  };
  QUANTD_ASSIGN_OR_RETURN(
      DownloadOutcome outcome,
      DownloadResumable(
          DownloadOpener(connection, flags.job_id, artifact.name()),
          {path, artifact.blob(), artifact.size_bytes()}, options));
  progress.Finish(OutcomeName(outcome));
  return Fetched{artifact, path, OutcomeName(outcome)};
}

void PrintFetched(CommandContext& context, const FetchFlags& flags,
                  const std::vector<Fetched>& fetched) {
  if (context.output() == OutputFormat::kTable) {
    Table table({"ARTIFACT", "SIZE", "PATH", "OUTCOME"});
    table.AlignRight(1);
    for (const Fetched& item : fetched) {
      table.AddRow({item.artifact.name(),
                    FormatBytes(item.artifact.size_bytes()), item.path,
                    item.outcome});
    }
    context.io().out << table.Render() << std::flush;
    return;
  }
  nlohmann::json list = nlohmann::json::array();
  for (const Fetched& item : fetched) {
    nlohmann::json entry = ArtifactToJson(item.artifact);
    entry["path"] = item.path;
    entry["outcome"] = item.outcome;
    list.push_back(entry);
  }
  const nlohmann::json document = {
      {"job_id", flags.job_id}, {"dest", flags.dest}, {"artifacts", list}};
  context.io().out << RenderDocument(document, context.output()) << std::flush;
}

ExitCode RunFetch(CommandContext& context, const FetchFlags& flags) {
  auto connection = context.Connect();
  if (!connection.ok()) return context.Fail(connection.status());
  auto listing = CallListArtifacts(**connection, flags.job_id);
  if (!listing.ok()) return context.Fail(listing.status());
  std::vector<Fetched> fetched;
  for (const auto& artifact : listing->artifacts()) {
    if (!Selected(flags, artifact)) continue;
    auto one = FetchOne(context, **connection, flags, artifact);
    if (!one.ok()) return context.Fail(one.status());
    fetched.push_back(*std::move(one));
  }
  if (fetched.empty()) {
    return context.Fail(absl::NotFoundError(absl::StrCat(
        "job ", flags.job_id, " has no artifacts",
        flags.names.empty() && flags.kinds.empty() ? ""
                                                   : " matching the filters",
        " (", listing->artifacts_size(), " in all)")));
  }
  PrintFetched(context, flags, fetched);
  return ExitCode::kSuccess;
}

}  // namespace

absl::StatusOr<std::string> ArtifactPath(absl::string_view dest,
                                         absl::string_view name) {
  std::filesystem::path path(std::string{dest});
  const bool unsafe_start = name.empty() || name.front() == '/';
  for (absl::string_view part : absl::StrSplit(name, '/')) {
    if (unsafe_start || part.empty() || part == "." || part == "..") {
      return absl::InvalidArgumentError(absl::StrCat(
          "artifact name \"", name, "\" is not a safe relative path"));
    }
    path /= std::string(part);
  }
  return path.string();
}

Command AddFetchCommand(CLI::App& parent) {
  auto flags = std::make_shared<FetchFlags>();
  CLI::App* app = parent.add_subcommand(
      "fetch", "download a job's artifacts (resumable, hash-checked)");
  app->add_option("JOB", flags->job_id, "job id")->required();
  app->add_option("-d,--dest", flags->dest, "directory to write into (.)");
  app->add_option("--artifact", flags->names,
                  "only this artifact name, repeatable")
      ->allow_extra_args(false);
  app->add_option("--kind", flags->kinds,
                  "only artifacts of this kind (model, packed, report, ...), "
                  "repeatable")
      ->allow_extra_args(false);
  return {app, [flags](CommandContext& context) {
            return RunFetch(context, *flags);
          }};
}

}  // namespace quantd::client
