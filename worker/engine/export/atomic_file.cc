#include "worker/engine/export/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "worker/engine/export/export_error.h"

namespace quantd::engine::exporting {
namespace {

std::string ErrnoMessage(const std::filesystem::path& path, const char* what) {
  return path.string() + ": " + what + ": " + std::strerror(errno);
}

std::filesystem::path TempPathFor(const std::filesystem::path& path) {
  return path.parent_path() / ("." + path.filename().string() + "." +
                               std::to_string(::getpid()) + ".tmp");
}

// Makes a rename in `dir` durable. Best effort: some filesystems refuse to
// fsync a directory, which loses nothing but crash safety.
void SyncDirectory(const std::filesystem::path& dir) {
  const std::string name = dir.empty() ? std::string(".") : dir.string();
  int fd = ::open(name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

AtomicFile::AtomicFile(std::filesystem::path path)
    : path_(std::move(path)), temp_path_(TempPathFor(path_)) {
  if (path_.filename().empty()) {
    throw ExportError(path_.string() + ": not a file name");
  }
  if (path_.has_parent_path()) {
    std::error_code error;
    std::filesystem::create_directories(path_.parent_path(), error);
    if (error) {
      throw ExportError(path_.parent_path().string() +
                        ": cannot create directory: " + error.message());
    }
  }
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
               0644);
  if (fd_ < 0) throw ExportError(ErrnoMessage(temp_path_, "cannot create"));
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : path_(std::move(other.path_)),
      temp_path_(std::move(other.temp_path_)),
      fd_(other.fd_),
      hash_(std::move(other.hash_)),
      size_bytes_(other.size_bytes_) {
  other.fd_ = -1;
}

AtomicFile::~AtomicFile() { Abandon(); }

void AtomicFile::Abandon() noexcept {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
  ::unlink(temp_path_.c_str());
}

void AtomicFile::Fail(const char* what) {
  std::string message = ErrnoMessage(path_, what);
  Abandon();
  throw ExportError(message);
}

void AtomicFile::Write(std::span<const std::byte> bytes) {
  if (fd_ < 0) throw ExportError(path_.string() + ": write after commit");
  hash_.Update(bytes);
  size_bytes_ += bytes.size();
  const std::byte* data = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    ssize_t written = ::write(fd_, data, left);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) Fail("cannot write");
    data += written;
    left -= static_cast<size_t>(written);
  }
}

void AtomicFile::Write(std::string_view text) {
  Write(std::as_bytes(std::span<const char>(text.data(), text.size())));
}

WrittenFile AtomicFile::Commit() {
  if (fd_ < 0) throw ExportError(path_.string() + ": committed twice");
  if (::fsync(fd_) != 0) Fail("cannot sync");
  if (::close(fd_) != 0) {
    fd_ = -1;
    std::string message = ErrnoMessage(path_, "cannot close");
    ::unlink(temp_path_.c_str());
    throw ExportError(message);
  }
  fd_ = -1;
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    std::string message = ErrnoMessage(path_, "cannot rename into place");
    ::unlink(temp_path_.c_str());
    throw ExportError(message);
  }
  SyncDirectory(path_.parent_path());
  return {path_, hash_.FinishHex(), size_bytes_};
}

WrittenFile WriteFileAtomically(const std::filesystem::path& path,
                                std::string_view bytes) {
  AtomicFile file(path);
  file.Write(bytes);
  return file.Commit();
}

WrittenFile CopyFileAtomically(const std::filesystem::path& from,
                               const std::filesystem::path& to) {
  int fd = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ExportError(ErrnoMessage(from, "cannot open"));
  AtomicFile file(to);
  std::vector<std::byte> buffer(1 << 20);
  while (true) {
    ssize_t got = ::read(fd, buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      std::string message = ErrnoMessage(from, "cannot read");
      ::close(fd);
      throw ExportError(message);
    }
    if (got == 0) break;
    file.Write(
        std::span<const std::byte>(buffer.data(), static_cast<size_t>(got)));
  }
  ::close(fd);
  return file.Commit();
}

void RemoveFlatDirectory(const std::filesystem::path& dir) {
  DIR* stream = ::opendir(dir.c_str());
  if (stream == nullptr) {
    if (errno == ENOENT) return;
    throw ExportError(ErrnoMessage(dir, "cannot open directory"));
  }
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(stream)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  ::closedir(stream);
  for (const std::string& name : names) {
    const std::filesystem::path file = dir / name;
    if (::unlink(file.c_str()) != 0 && errno != ENOENT) {
      throw ExportError(ErrnoMessage(file, "cannot remove"));
    }
  }
  if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) {
    throw ExportError(ErrnoMessage(dir, "cannot remove directory"));
  }
}

}  // namespace quantd::engine::exporting
