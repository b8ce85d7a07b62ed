#include "worker/agent/line_reader.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace quantd::agent {

LineReader::LineReader(int fd, size_t max_line_bytes)
    : fd_(fd), max_line_bytes_(max_line_bytes) {}

ReadBatch LineReader::Read(absl::Duration timeout) {
  ReadBatch batch;
  struct pollfd poll_fd;
  poll_fd.fd = fd_;
  poll_fd.events = POLLIN;
  poll_fd.revents = 0;
  const int timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(timeout));
  const int ready = ::poll(&poll_fd, 1, timeout_ms);
  if (ready <= 0) return batch;  // Timeout or EINTR: nothing yet.
  char buffer[64 * 1024];
  ssize_t n;
  do {
    n = ::read(fd_, buffer, sizeof(buffer));
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    Append(buffer, static_cast<size_t>(n), batch);
    return batch;
  }
  // 0: the writer closed; < 0: a broken pipe reads as the end too.
  batch.eof = true;
  if (!partial_.empty() || partial_truncated_) {
    batch.lines.push_back({std::move(partial_), partial_truncated_});
    partial_.clear();
    partial_truncated_ = false;
  }
  return batch;
}

void LineReader::Append(const char* data, size_t size, ReadBatch& batch) {
  while (size > 0) {
    const void* newline = std::memchr(data, '\n', size);
    const size_t take =
        newline != nullptr
            ? static_cast<size_t>(static_cast<const char*>(newline) - data)
            : size;
    const size_t room = max_line_bytes_ - partial_.size();
    if (take > room) partial_truncated_ = true;
    partial_.append(data, take < room ? take : room);
    if (newline == nullptr) return;
    batch.lines.push_back({std::move(partial_), partial_truncated_});
    partial_.clear();
    partial_truncated_ = false;
    data += take + 1;
    size -= take + 1;
  }
}

}  // namespace quantd::agent
