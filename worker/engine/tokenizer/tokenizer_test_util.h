// Helpers shared by the tokenizer tests: locating the repository and its
// models, temporary directories, file I/O and running the Python reference
// scripts. Test-only.
#pragma once

#include <ftw.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "worker/engine/tokenizer/tokenizer.h"

namespace quantd::engine::tokenizer::test_util {

// The repository root (QUANTD_SOURCE_DIR, set by quantd_add_test).
inline std::filesystem::path SourceDir() {
  const char* dir = std::getenv("QUANTD_SOURCE_DIR");
  if (dir == nullptr) {
    ADD_FAILURE() << "QUANTD_SOURCE_DIR is not set; run through ctest";
    return std::filesystem::current_path();
  }
  return dir;
}

inline std::filesystem::path SmolLm2Gguf() {
  return SourceDir() / "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
}
inline std::filesystem::path MiniLmDir() {
  return SourceDir() / "models/all-minilm-l6-v2";
}
// WikiText-2 lives in shared/ beside the repository.
inline std::filesystem::path WikiText(const char* name) {
  return SourceDir().parent_path() / "shared/data/wikitext-2" / name;
}

// A path quoted for the shell.
inline std::string Quote(const std::filesystem::path& path) {
  return "'" + path.string() + "'";
}

// A fresh directory under the test temp dir, removed with its contents.
// Uses POSIX calls, not std::filesystem: libtorch exports its own, older
// copies of std::filesystem::remove_all & co., which crash when they bind to
// code built by this compiler (seen with the torch 2.11 wheel).
class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "quantd_tokenizer_XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp failed for " << pattern;
    }
    path_ = pattern;
  }
  ~TempDir() {
    nftw(
        path_.c_str(),
        [](const char* path, const struct stat*, int, struct FTW*) {
          return remove(path);
        },
        16, FTW_DEPTH | FTW_PHYS);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline void WriteFile(const std::filesystem::path& path,
                      const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

// Little-endian int32 values, as the reference scripts write them.
inline std::vector<int32_t> ReadInt32File(const std::filesystem::path& path) {
  const std::string bytes = ReadFile(path);
  std::vector<int32_t> values(bytes.size() / 4);
  for (size_t i = 0; i < values.size(); ++i) {
    uint32_t v = 0;
    for (int b = 3; b >= 0; --b) {
      v = (v << 8) | static_cast<uint8_t>(bytes[4 * i + b]);
    }
    values[i] = static_cast<int32_t>(v);
  }
  return values;
}

inline std::string NormalizeCrlf(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      continue;
    }
    out.push_back(text[i]);
  }
  return out;
}

// Runs a reference script with the build's Python; returns its exit code.
inline int RunPython(const std::string& script_and_args) {
  // Appended piecewise: GCC 12 warns falsely (-Warray-bounds) on a chain of
  // std::string operator+ here.
  std::string command = QUANTD_PYTHON;
  command.append(" ").append(script_and_args);
  return std::system(command.c_str());
}

// Index of the first difference between our ids and the reference's, or -1
// when they are equal; reports a failure with the tokens around it.
inline int64_t FirstMismatch(const std::vector<int32_t>& got,
                             const std::vector<int32_t>& want,
                             const Tokenizer& tokenizer) {
  const size_t n = std::min(got.size(), want.size());
  size_t i = 0;
  while (i < n && got[i] == want[i]) {
    ++i;
  }
  if (i == n && got.size() == want.size()) {
    return -1;
  }
  std::string context;
  for (size_t k = i >= 5 ? i - 5 : 0; k < std::min(n, i + 5); ++k) {
    context += " [" + std::string(tokenizer.IdToToken(want[k])) + "|" +
               std::string(tokenizer.IdToToken(got[k])) + "]";
  }
  ADD_FAILURE() << "first mismatch at " << i << " of " << want.size()
                << " reference ids (" << got.size()
                << " ours); [reference|ours]:" << context;
  return static_cast<int64_t>(i);
}

// Ids of wiki.test.raw (CRLF -> LF) from smollm2_reference.py, written
// under `dir` as wiki.bin, plus `extra_args` (e.g. --write-metadata ...).
inline std::vector<int32_t> SmolLm2ReferenceWikiIds(
    const std::filesystem::path& dir, const std::string& extra_args = "") {
  const std::filesystem::path script =
      SourceDir() / "tests/reference/tokenizer/smollm2_reference.py";
  const std::filesystem::path out = dir / "wiki.bin";
  std::ostringstream args;
  args << Quote(script) << " --gguf " << Quote(SmolLm2Gguf()) << " --text "
       << Quote(WikiText("wiki.test.raw")) << " --crlf-to-lf --ids-out "
       << Quote(out) << " " << extra_args;
  const int rc = RunPython(args.str());
  EXPECT_EQ(rc, 0) << "smollm2_reference.py failed";
  return ReadInt32File(out);
}

}  // namespace quantd::engine::tokenizer::test_util
