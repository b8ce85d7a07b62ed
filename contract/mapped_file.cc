#include "contract/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "contract/format_error.h"

namespace quantd::contract {
namespace {

// Closes the descriptor on every path out of the constructor; the mapping
// stays valid after close.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string ErrnoText(const char* action) {
  return std::string(action) + ": " + std::strerror(errno);
}

}  // namespace

MappedFile::MappedFile(const std::filesystem::path& path) : path_(path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw FormatError::ForFile(path, ErrnoText("cannot open"));
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) {
    throw FormatError::ForFile(path, ErrnoText("cannot stat"));
  }
  if (!S_ISREG(info.st_mode)) {
    throw FormatError::ForFile(path, "not a regular file");
  }
  size_bytes_ = static_cast<uint64_t>(info.st_size);
  if (size_bytes_ == 0) return;
  void* address = ::mmap(nullptr, static_cast<size_t>(size_bytes_), PROT_READ,
                         MAP_PRIVATE, fd.get(), 0);
  if (address == MAP_FAILED) {
    throw FormatError::ForFile(path, ErrnoText("cannot map"));
  }
  address_ = address;
}

MappedFile::~MappedFile() { Release(); }

void MappedFile::Evict(std::span<const std::byte> range) const noexcept {
  const auto* base = static_cast<const std::byte*>(address_);
  if (base == nullptr || range.empty() || range.data() < base ||
      range.data() + range.size() > base + size_bytes_) {
    return;
  }
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(range.data());
  const uintptr_t first = (begin + page - 1) / page * page;
  const uintptr_t last = (begin + range.size()) / page * page;
  if (last <= first) return;
  // Read-only private file pages are never dirty: dropping them loses
  // nothing.
  ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)),
      address_(std::exchange(other.address_, nullptr)),
      size_bytes_(std::exchange(other.size_bytes_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    Release();
    path_ = std::move(other.path_);
    address_ = std::exchange(other.address_, nullptr);
    size_bytes_ = std::exchange(other.size_bytes_, 0);
  }
  return *this;
}

void MappedFile::Release() noexcept {
  if (address_ != nullptr) {
    ::munmap(address_, static_cast<size_t>(size_bytes_));
    address_ = nullptr;
  }
}

}  // namespace quantd::contract
