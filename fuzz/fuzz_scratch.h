// ScratchDir: a private directory for fuzz targets whose parser takes a
// path rather than bytes (a config file, a model directory). Each input is
// written over the same few files, so a run leaves nothing behind but the
// directory, which the destructor removes.
//
// Ownership: owns the directory tree. Thread-safety: none (libFuzzer and
// the replay driver run one input at a time).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace quantd::fuzz {

class ScratchDir {
 public:
  // Creates a fresh directory under $TMPDIR (default /tmp). Aborts when it
  // cannot: that is a broken harness, not a finding.
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }

  // Replaces the contents of `relative` (creating its parent directories)
  // with `size` bytes at `data`; returns its absolute path. Aborts on a
  // write error.
  std::string Write(std::string_view relative, const uint8_t* data,
                    size_t size) const;
  std::string Write(std::string_view relative, std::string_view text) const {
    return Write(relative, reinterpret_cast<const uint8_t*>(text.data()),
                 text.size());
  }

 private:
  std::string path_;
};

}  // namespace quantd::fuzz
