#include "server/artifacts/blob_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <random>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/status.h"

namespace quantd::artifacts {
namespace {

namespace fs = std::filesystem;

absl::Status ErrnoError(const std::string& what, const std::string& path) {
  return absl::UnavailableError(absl::StrCat("blob store: ", what, " ", path,
                                             ": ", std::strerror(errno)));
}

bool IsHex64(const std::string& hex) {
  if (hex.size() != 64) return false;
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

absl::Status CheckHex(const std::string& hex) {
  if (!IsHex64(hex)) {
    return absl::InvalidArgumentError(
        absl::StrCat("blob store: \"", hex.substr(0, 80),
                     "\" is not 64 lowercase hex digits"));
  }
  return absl::OkStatus();
}

absl::Status SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open directory", dir);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return ErrnoError("fsync directory", dir);
  return absl::OkStatus();
}

int64_t FileAgeMillis(const fs::path& path, int64_t now_ms) {
  std::error_code error;
  const auto mtime = fs::last_write_time(path, error);
  if (error) return 0;
  const auto system = std::chrono::file_clock::to_sys(mtime);
  const int64_t mtime_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(
          system.time_since_epoch())
          .count();
  return now_ms - mtime_ms;
}

std::string RandomSuffix() {
  static std::atomic<uint64_t> counter{0};
  std::random_device device;
  return absl::StrCat(::getpid(), "-", counter++, "-", device());
}

}  // namespace

struct BlobWriter::Hasher {
  Sha256 sha;
};

absl::StatusOr<std::unique_ptr<BlobStore>> BlobStore::Open(
    const std::string& root) {
  std::error_code error;
  fs::create_directories(fs::path(root) / "sha256", error);
  if (!error) fs::create_directories(fs::path(root) / "tmp", error);
  if (error) {
    return absl::UnavailableError(absl::StrCat("blob store: cannot create ",
                                               root, ": ", error.message()));
  }
  return std::unique_ptr<BlobStore>(new BlobStore(root));
}

std::string BlobStore::PathOf(const std::string& hex) const {
  return absl::StrCat(root_, "/sha256/", hex.substr(0, 2), "/", hex);
}

absl::StatusOr<std::unique_ptr<BlobWriter>> BlobStore::NewWriter(
    const std::string& hex, uint64_t size_bytes) {
  QUANTD_RETURN_IF_ERROR(CheckHex(hex));
  const std::string temp = absl::StrCat(root_, "/tmp/", hex.substr(0, 16), "-",
                                        RandomSuffix(), ".partial");
  const int fd =
      ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("create", temp);
  return std::unique_ptr<BlobWriter>(
      new BlobWriter(hex, size_bytes, temp, PathOf(hex), fd));
}

bool BlobStore::Contains(const std::string& hex) const {
  if (!IsHex64(hex)) return false;
  std::error_code error;
  return fs::is_regular_file(PathOf(hex), error);
}

absl::StatusOr<uint64_t> BlobStore::SizeOf(const std::string& hex) const {
  QUANTD_RETURN_IF_ERROR(CheckHex(hex));
  std::error_code error;
  const uint64_t size = fs::file_size(PathOf(hex), error);
  if (error) {
    return absl::NotFoundError(absl::StrCat("blob sha256:", hex, " not found"));
  }
  return size;
}

absl::StatusOr<std::string> BlobStore::Read(const std::string& hex,
                                            uint64_t offset,
                                            uint64_t max_bytes) const {
  QUANTD_ASSIGN_OR_RETURN(uint64_t size, SizeOf(hex));
  if (offset > size) {
    return absl::OutOfRangeError(absl::StrCat(
        "offset ", offset, " is past the end of a ", size, "-byte blob"));
  }
  const uint64_t length = std::min<uint64_t>(max_bytes, size - offset);
  std::string data(length, '\0');
  const std::string path = PathOf(hex);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open", path);
  uint64_t done = 0;
  while (done < length) {
    const ssize_t n = ::pread(fd, data.data() + done, length - done,
                              static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return n == 0 ? absl::DataLossError("blob store: blob shrank while read")
                    : ErrnoError("read", path);
    }
    done += static_cast<uint64_t>(n);
  }
  ::close(fd);
  return data;
}

absl::Status BlobStore::Remove(const std::string& hex) {
  QUANTD_RETURN_IF_ERROR(CheckHex(hex));
  std::error_code error;
  fs::remove(PathOf(hex), error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("blob store: cannot remove ", hex, ": ", error.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> BlobStore::TotalBytes() const {
  uint64_t total = 0;
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(root_ + "/sha256", error);
       !error && it != fs::recursive_directory_iterator();
       it.increment(error)) {
    std::error_code size_error;
    if (it->is_regular_file(size_error)) total += it->file_size(size_error);
  }
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("blob store: cannot scan ", root_, ": ", error.message()));
  }
  return total;
}

absl::StatusOr<GcReport> BlobStore::CollectGarbage(
    const std::function<bool(const std::string& hex)>& keep, int64_t now_ms,
    int64_t retention_seconds) {
  GcReport report;
  const int64_t retention_ms = retention_seconds * 1000;
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(root_ + "/sha256", error);
       !error && it != fs::recursive_directory_iterator();
       it.increment(error)) {
    std::error_code entry_error;
    if (!it->is_regular_file(entry_error)) continue;
    const std::string hex = it->path().filename().string();
    if (!IsHex64(hex) || keep(hex)) continue;
    if (FileAgeMillis(it->path(), now_ms) < retention_ms) continue;
    const uint64_t size = it->file_size(entry_error);
    if (fs::remove(it->path(), entry_error)) {
      ++report.removed_blobs;
      report.removed_bytes += size;
    }
  }
  for (auto it = fs::directory_iterator(root_ + "/tmp", error);
       !error && it != fs::directory_iterator(); it.increment(error)) {
    std::error_code entry_error;
    if (FileAgeMillis(it->path(), now_ms) < retention_ms) continue;
    if (fs::remove(it->path(), entry_error)) ++report.removed_temp_files;
  }
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("blob store: gc scan failed: ", error.message()));
  }
  return report;
}

BlobWriter::BlobWriter(std::string hex, uint64_t size_bytes,
                       std::string temp_path, std::string final_path, int fd)
    : hex_(std::move(hex)),
      size_bytes_(size_bytes),
      temp_path_(std::move(temp_path)),
      final_path_(std::move(final_path)),
      fd_(fd),
      hasher_(std::make_unique<Hasher>()) {}

BlobWriter::~BlobWriter() { Discard(); }

void BlobWriter::Discard() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
  temp_path_.clear();
}

absl::Status BlobWriter::Append(absl::string_view data) {
  if (fd_ < 0) return absl::FailedPreconditionError("blob writer is closed");
  if (data.size() > size_bytes_ - written_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "size_bytes: more data than the declared ", size_bytes_, " bytes"));
  }
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("write", temp_path_);
    done += static_cast<size_t>(n);
  }
  hasher_->sha.Update(std::string_view(data.data(), data.size()));
  written_ += data.size();
  return absl::OkStatus();
}

absl::StatusOr<bool> BlobWriter::Commit() {
  if (fd_ < 0) return absl::FailedPreconditionError("blob writer is closed");
  if (written_ != size_bytes_) {
    Discard();
    return absl::InvalidArgumentError(absl::StrCat(
        "size_bytes: declared ", size_bytes_, " bytes, received ", written_));
  }
  const std::string actual = hasher_->sha.FinishHex();
  if (actual != hex_) {
    Discard();
    return absl::DataLossError(absl::StrCat("blob: declared sha256:", hex_,
                                            ", received sha256:", actual));
  }
  std::error_code exists_error;
  if (fs::is_regular_file(final_path_, exists_error)) {
    Discard();
    return true;
  }
  if (::fsync(fd_) != 0) return ErrnoError("fsync", temp_path_);
  ::close(fd_);
  fd_ = -1;
  const std::string dir = fs::path(final_path_).parent_path().string();
  std::error_code error;
  fs::create_directories(dir, error);
  if (::rename(temp_path_.c_str(), final_path_.c_str()) != 0) {
    absl::Status status = ErrnoError("rename", final_path_);
    Discard();
    return status;
  }
  temp_path_.clear();
  QUANTD_RETURN_IF_ERROR(SyncDirectory(dir));
  return false;
}

}  // namespace quantd::artifacts
