#include "fuzz/fuzz_scratch.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <vector>

namespace quantd::fuzz {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::perror(what.c_str());
  std::abort();
}

}  // namespace

ScratchDir::ScratchDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && *tmp ? tmp : "/tmp") +
                        "/quantd-fuzz-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) == nullptr) Die("fuzz: mkdtemp " + pattern);
  path_ = buffer.data();
}

ScratchDir::~ScratchDir() {
  std::error_code error;
  std::filesystem::remove_all(path_, error);
}

std::string ScratchDir::Write(std::string_view relative, const uint8_t* data,
                              size_t size) const {
  const std::filesystem::path file = std::filesystem::path(path_) / relative;
  std::error_code error;
  std::filesystem::create_directories(file.parent_path(), error);
  const int fd =
      ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) Die("fuzz: open " + file.string());
  size_t written = 0;
  while (written < size) {
    const ssize_t n = ::write(fd, data + written, size - written);
    if (n <= 0) Die("fuzz: write " + file.string());
    written += static_cast<size_t>(n);
  }
  ::close(fd);
  return file.string();
}

}  // namespace quantd::fuzz
