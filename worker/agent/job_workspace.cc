#include "worker/agent/job_workspace.h"

#include <filesystem>
#include <fstream>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/status.h"
#include "google/protobuf/util/json_util.h"

namespace quantd::agent {
namespace fs = std::filesystem;
namespace {

constexpr char kMarker[] = ".quantd-workspace";

bool IsSafeName(absl::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

absl::Status FsError(absl::string_view what, const fs::path& path,
                     const std::error_code& error) {
  return absl::InternalError(
      absl::StrCat(what, " ", path.string(), ": ", error.message()));
}

absl::Status WriteFile(const std::string& path, absl::string_view content) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(content.data(), static_cast<std::streamsize>(content.size()));
  file.close();
  if (!file) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

// GGUF files start with the magic "GGUF"; the engine picks its loader by
// extension, so a downloaded model gets the right one.
bool LooksLikeGguf(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  char magic[4] = {};
  file.read(magic, sizeof(magic));
  return file.gcount() == 4 && absl::string_view(magic, 4) == "GGUF";
}

}  // namespace

absl::StatusOr<std::unique_ptr<JobWorkspace>> JobWorkspace::Create(
    const std::string& root, const std::string& job_id,
    uint64_t fencing_token) {
  if (!IsSafeName(job_id)) {
    return InvalidFieldError("job.id", "not usable as a directory name");
  }
  std::error_code error;
  fs::create_directories(root, error);
  if (error) return FsError("cannot create", root, error);
  const fs::path canonical_root = fs::canonical(root, error);
  if (error) return FsError("cannot resolve", root, error);
  const fs::path dir =
      canonical_root / absl::StrCat(job_id, "-", fencing_token);
  fs::remove_all(dir, error);
  if (error) return FsError("cannot empty", dir, error);
  for (const char* sub : {"", "checkpoint", "inputs", "uploads"}) {
    fs::create_directories(dir / sub, error);
    if (error) return FsError("cannot create", dir / sub, error);
  }
  auto workspace =
      std::unique_ptr<JobWorkspace>(new JobWorkspace(dir.string()));
  QUANTD_RETURN_IF_ERROR(WriteFile((dir / kMarker).string(), job_id));
  return workspace;
}

JobWorkspace::~JobWorkspace() {
  if (keep_) return;
  std::error_code ignored;  // Best effort: nothing useful to do on failure.
  fs::remove_all(dir_, ignored);
}

absl::StatusOr<std::string> JobWorkspace::Materialize(
    const quantd::v1::DataRef& ref, absl::string_view role,
    const BlobDownloader& download) {
  QUANTD_ASSIGN_OR_RETURN(
      const std::string hex,
      ParseBlobRef(ref.blob(), absl::StrCat(role, ".blob")));
  const std::string base =
      absl::StrCat(dir_, "/inputs/", role, "-", hex.substr(0, 16));
  const std::string downloaded = base + ".download";
  QUANTD_RETURN_IF_ERROR(
      Annotate(download(ref.blob(), downloaded), std::string(role)));
  const bool is_model = role == "model";
  const std::string path =
      base +
      (is_model ? (LooksLikeGguf(downloaded) ? ".gguf" : ".bin") : ".txt");
  std::error_code error;
  fs::rename(downloaded, path, error);
  if (error) return FsError("cannot rename", downloaded, error);
  return absl::StrCat("file://", path);
}

absl::Status JobWorkspace::DownloadResumeFiles(const quantd::v1::Lease& lease,
                                               const BlobDownloader& download) {
  // Every name is checked before anything is fetched.
  for (int i = 0; i < lease.resume_files_size(); ++i) {
    QUANTD_RETURN_IF_ERROR(
        CheckCheckpointFileName(lease.resume_files(i).name(),
                                absl::StrCat("resume_files[", i, "].name")));
  }
  for (const quantd::v1::Artifact& file : lease.resume_files()) {
    QUANTD_RETURN_IF_ERROR(
        Annotate(download(file.blob(), absl::StrCat(dir_, "/", file.name())),
                 absl::StrCat("resume file ", file.name())));
  }
  return absl::OkStatus();
}

absl::StatusOr<quantd::v1::JobSpec> JobWorkspace::Prepare(
    const quantd::v1::Lease& lease, const BlobDownloader& download) {
  quantd::v1::JobSpec spec = lease.job().spec();
  // Only blob references change; absent messages stay absent.
  std::vector<std::pair<quantd::v1::DataRef*, const char*>> inputs;
  if (spec.model().source_case() == quantd::v1::DataRef::kBlob) {
    inputs.emplace_back(spec.mutable_model(), "model");
  }
  if (spec.calibration().dataset().source_case() ==
      quantd::v1::DataRef::kBlob) {
    inputs.emplace_back(spec.mutable_calibration()->mutable_dataset(),
                        "calibration");
  }
  if (spec.evaluation().dataset().source_case() == quantd::v1::DataRef::kBlob) {
    inputs.emplace_back(spec.mutable_evaluation()->mutable_dataset(),
                        "evaluation");
  }
  for (const auto& [ref, role] : inputs) {
    QUANTD_ASSIGN_OR_RETURN(std::string uri, Materialize(*ref, role, download));
    ref->set_uri(std::move(uri));
  }
  QUANTD_RETURN_IF_ERROR(DownloadResumeFiles(lease, download));
  QUANTD_ASSIGN_OR_RETURN(const std::string json, SpecToJson(spec));
  QUANTD_RETURN_IF_ERROR(WriteFile(spec_path(), json));
  return spec;
}

absl::StatusOr<std::string> JobWorkspace::Resolve(
    absl::string_view path) const {
  fs::path candidate(std::string{path});
  if (candidate.is_relative()) candidate = fs::path(dir_) / candidate;
  std::error_code error;
  // Symlinks are followed so that a link cannot lead outside.
  const fs::path resolved = fs::weakly_canonical(candidate, error);
  if (error) return InvalidFieldError("path", error.message());
  const std::string text = resolved.string();
  if (!absl::StartsWith(text, dir_ + "/")) {
    return InvalidFieldError(
        "path", absl::StrCat(text, " is outside the job's work dir"));
  }
  return text;
}

absl::StatusOr<EngineFile> JobWorkspace::PinCheckpoint(const EngineFile& file) {
  QUANTD_ASSIGN_OR_RETURN(const std::string source, Resolve(file.path));
  EngineFile pinned = file;
  pinned.path = absl::StrCat(dir_, "/uploads/checkpoint-", file.block_index,
                             "-", ++pinned_count_, ".safetensors");
  pinned.pinned = true;
  std::error_code error;
  fs::create_hard_link(source, pinned.path, error);
  if (error) return FsError("cannot link", source, error);
  return pinned;
}

absl::StatusOr<int> RemoveStaleWorkspaces(const std::string& root) {
  std::error_code error;
  if (!fs::exists(root, error)) return 0;
  int removed = 0;
  fs::directory_iterator it(root, error);
  for (; !error && it != fs::directory_iterator(); it.increment(error)) {
    const fs::path& path = it->path();
    std::error_code probe;
    if (!fs::is_directory(path, probe) || !fs::exists(path / kMarker, probe)) {
      continue;
    }
    fs::remove_all(path, error);
    if (error) return FsError("cannot remove", path, error);
    ++removed;
  }
  if (error) return FsError("cannot list", root, error);
  return removed;
}

absl::StatusOr<std::string> SpecToJson(const quantd::v1::JobSpec& spec) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  const auto status =
      google::protobuf::util::MessageToJsonString(spec, &json, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("JobSpec to JSON: ", status.ToString()));
  }
  return json;
}

}  // namespace quantd::agent
