#include "worker/agent/job_workspace.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "common/sha256.h"
#include "common/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::agent {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

// A fresh directory, removed when the test ends.
class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "/workspace-XXXXXX";
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// Serves blobs from a map, like DownloadBlob would from the scheduler.
struct FakeBlobs {
  std::map<std::string, std::string> blobs;
  std::vector<std::string> fetched;

  std::string Add(const std::string& data) {
    const std::string ref = BlobRef(Sha256Hex(data));
    blobs[ref] = data;
    return ref;
  }

  BlobDownloader Downloader() {
    return [this](const std::string& blob, const std::string& dest) {
      fetched.push_back(blob);
      auto it = blobs.find(blob);
      if (it == blobs.end()) return absl::NotFoundError(blob);
      std::ofstream(dest, std::ios::binary) << it->second;
      return absl::OkStatus();
    };
  }
};

TEST(JobWorkspaceTest, CreatesAndRemovesItsDirectory) {
  const TempDir temp;
  const std::string& root = temp.path();
  std::string dir;
  {
    auto workspace = JobWorkspace::Create(root, "j-01ABC", 7);
    ASSERT_TRUE(workspace.ok()) << workspace.status();
    dir = (*workspace)->dir();
    EXPECT_EQ(fs::path(dir).filename(), "j-01ABC-7");
    EXPECT_TRUE(fs::is_directory(dir + "/checkpoint"));
  }
  EXPECT_FALSE(fs::exists(dir));
  {
    auto kept = JobWorkspace::Create(root, "j-01ABC", 8);
    ASSERT_TRUE(kept.ok());
    dir = (*kept)->dir();
    (*kept)->Keep();
  }
  EXPECT_TRUE(fs::exists(dir));
}

TEST(JobWorkspaceTest, RejectsJobIdsThatAreNotPlainNames) {
  const TempDir temp;
  const std::string& root = temp.path();
  for (const char* id : {"", "../etc", "a/b", "j 1"}) {
    auto workspace = JobWorkspace::Create(root, id, 1);
    EXPECT_EQ(workspace.status().code(), absl::StatusCode::kInvalidArgument)
        << id;
  }
}

TEST(JobWorkspaceTest, ResolvesOnlyPathsInside) {
  const TempDir temp;
  const std::string& root = temp.path();
  auto workspace = JobWorkspace::Create(root, "j-1", 1);
  ASSERT_TRUE(workspace.ok());
  const std::string dir = (*workspace)->dir();
  EXPECT_EQ((*workspace)->Resolve("report.json").value(), dir + "/report.json");
  EXPECT_EQ((*workspace)->Resolve(dir + "/model/a.st").value(),
            dir + "/model/a.st");
  EXPECT_FALSE((*workspace)->Resolve("../other/file").ok());
  EXPECT_FALSE((*workspace)->Resolve("/etc/passwd").ok());
  fs::create_symlink("/etc", dir + "/escape");
  EXPECT_FALSE((*workspace)->Resolve("escape/passwd").ok());
}

TEST(JobWorkspaceTest, APinnedCheckpointKeepsItsContentWhenReplaced) {
  const TempDir temp;
  auto workspace = JobWorkspace::Create(temp.path(), "j-1", 1);
  ASSERT_TRUE(workspace.ok());
  const std::string path =
      (*workspace)->dir() + "/checkpoint/streams.safetensors";
  // The engine writes a temporary file and renames it into place.
  auto write = [&](const std::string& content) {
    std::ofstream(path + ".tmp", std::ios::binary) << content;
    fs::rename(path + ".tmp", path);
  };
  write("after block 0");
  EngineFile announced;
  announced.path = path;
  announced.block_index = 0;
  announced.size_bytes = 13;
  const auto first = (*workspace)->PinCheckpoint(announced);
  ASSERT_TRUE(first.ok()) << first.status();
  const auto second = (*workspace)->PinCheckpoint(announced);
  ASSERT_TRUE(second.ok()) << second.status();
  write("after block 1");

  EXPECT_TRUE(first->pinned);
  EXPECT_NE(first->path, path);
  EXPECT_NE(first->path, second->path);
  EXPECT_TRUE((*workspace)->Resolve(first->path).ok());
  EXPECT_EQ(ReadFile(first->path), "after block 0");
  EXPECT_EQ(ReadFile(path), "after block 1");

  announced.path = "/etc/passwd";
  EXPECT_FALSE((*workspace)->PinCheckpoint(announced).ok());
  announced.path = (*workspace)->dir() + "/checkpoint/missing.safetensors";
  EXPECT_FALSE((*workspace)->PinCheckpoint(announced).ok());
}

TEST(JobWorkspaceTest, PrepareMaterialisesBlobsAndWritesTheSpec) {
  const TempDir temp;
  const std::string& root = temp.path();
  FakeBlobs blobs;
  const std::string model =
      blobs.Add(std::string("GGUF") + std::string(60, '\1'));
  const std::string text = blobs.Add("calibration text");
  const std::string block = blobs.Add("block 0 bytes");
  const std::string streams = blobs.Add("streams bytes");
  quantd::v1::Lease lease;
  lease.set_fencing_token(3);
  lease.mutable_job()->set_id("j-2");
  quantd::v1::JobSpec& spec = *lease.mutable_job()->mutable_spec();
  spec.mutable_model()->set_blob(model);
  spec.set_method("osplus");
  spec.mutable_calibration()->mutable_dataset()->set_blob(text);
  spec.mutable_calibration()->set_n_samples(16);
  auto resume = [&](const std::string& name, const std::string& blob) {
    quantd::v1::Artifact* file = lease.add_resume_files();
    file->set_name(name);
    file->set_kind("checkpoint");
    file->set_blob(blob);
  };
  resume("checkpoint/block-00000.safetensors", block);
  resume("checkpoint/streams.safetensors", streams);

  auto workspace = JobWorkspace::Create(root, "j-2", 3);
  ASSERT_TRUE(workspace.ok());
  auto prepared = (*workspace)->Prepare(lease, blobs.Downloader());
  ASSERT_TRUE(prepared.ok()) << prepared.status();

  const std::string dir = (*workspace)->dir();
  const std::string model_uri = prepared->model().uri();
  EXPECT_EQ(model_uri.rfind("file://" + dir + "/inputs/model-", 0), 0u);
  EXPECT_EQ(fs::path(model_uri).extension(), ".gguf");
  EXPECT_TRUE(fs::exists(model_uri.substr(7)));
  const std::string data_uri = prepared->calibration().dataset().uri();
  EXPECT_EQ(ReadFile(data_uri.substr(7)), "calibration text");
  EXPECT_EQ(ReadFile(dir + "/checkpoint/block-00000.safetensors"),
            "block 0 bytes");
  EXPECT_EQ(ReadFile(dir + "/checkpoint/streams.safetensors"), "streams bytes");

  const std::string json = ReadFile((*workspace)->spec_path());
  EXPECT_THAT(json, HasSubstr("\"n_samples\":16"));
  EXPECT_THAT(json, HasSubstr("\"uri\":\"" + model_uri + "\""));
  EXPECT_THAT(json, Not(HasSubstr("\"blob\"")));
  // An absent message stays absent.
  EXPECT_THAT(json, Not(HasSubstr("evaluation")));
}

TEST(JobWorkspaceTest, LeavesFileUrisAndNamesTheInputThatFailed) {
  const TempDir temp;
  const std::string& root = temp.path();
  FakeBlobs blobs;
  quantd::v1::Lease lease;
  lease.mutable_job()->mutable_spec()->mutable_model()->set_uri(
      "file:///models/smollm2");
  auto workspace = JobWorkspace::Create(root, "j-3", 1);
  ASSERT_TRUE(workspace.ok());
  auto prepared = (*workspace)->Prepare(lease, blobs.Downloader());
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  EXPECT_EQ(prepared->model().uri(), "file:///models/smollm2");
  EXPECT_TRUE(blobs.fetched.empty());

  lease.mutable_job()
      ->mutable_spec()
      ->mutable_evaluation()
      ->mutable_dataset()
      ->set_blob(BlobRef(std::string(64, 'a')));
  auto failed = (*workspace)->Prepare(lease, blobs.Downloader());
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(failed.status().message()), HasSubstr("evaluation"));

  lease.mutable_job()
      ->mutable_spec()
      ->mutable_evaluation()
      ->mutable_dataset()
      ->set_blob("sha256:nothex");
  EXPECT_EQ((*workspace)->Prepare(lease, blobs.Downloader()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(JobWorkspaceTest, RejectsAResumeFileNamedOutsideCheckpoint) {
  const TempDir temp;
  FakeBlobs blobs;
  const std::string data = blobs.Add("bytes");
  for (const char* name :
       {"checkpoint/../spec.json", "checkpoint/a/b", "spec.json",
        "checkpoint/..", "/etc/passwd", "checkpoint/"}) {
    quantd::v1::Lease lease;
    quantd::v1::Artifact* good = lease.add_resume_files();
    good->set_name("checkpoint/streams.safetensors");
    good->set_blob(data);
    quantd::v1::Artifact* bad = lease.add_resume_files();
    bad->set_name(name);
    bad->set_blob(data);
    auto workspace = JobWorkspace::Create(temp.path(), "j-5", 1);
    ASSERT_TRUE(workspace.ok());
    auto prepared = (*workspace)->Prepare(lease, blobs.Downloader());
    EXPECT_EQ(prepared.status().code(), absl::StatusCode::kInvalidArgument)
        << name;
    EXPECT_EQ(FieldOfError(prepared.status()), "resume_files[1].name") << name;
  }
  // Names are checked before anything is fetched.
  EXPECT_TRUE(blobs.fetched.empty());
}

TEST(JobWorkspaceTest, RemovesOnlyStaleWorkspaces) {
  const TempDir temp;
  const std::string& root = temp.path();
  {
    auto stale = JobWorkspace::Create(root, "j-4", 1);
    ASSERT_TRUE(stale.ok());
    (*stale)->Keep();
  }
  fs::create_directories(root + "/not-ours");
  auto removed = RemoveStaleWorkspaces(root);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 1);
  EXPECT_FALSE(fs::exists(root + "/j-4-1"));
  EXPECT_TRUE(fs::exists(root + "/not-ours"));
}

}  // namespace
}  // namespace quantd::agent
