#include "worker/engine/io/sha256_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "contract/sha256.h"
#include "worker/engine/io/format_error.h"

namespace quantd::engine::io {
namespace {

bool IsHexDigest(const std::string& text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// The identity of the file as a text; empty when it cannot be stated.
std::string FileKey(const std::filesystem::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) return {};
  std::error_code error;
  const std::filesystem::path absolute = std::filesystem::absolute(path, error);
  std::ostringstream key;
  key << "quantd-sha256-cache/1\n"
      << (error ? path : absolute).string() << '\n'
      << info.st_dev << ' ' << info.st_ino << ' ' << info.st_size << ' '
      << info.st_mtim.tv_sec << '.' << info.st_mtim.tv_nsec << ' '
      << info.st_ctim.tv_sec << '.' << info.st_ctim.tv_nsec;
  return key.str();
}

std::string ReadEntry(const std::filesystem::path& entry) {
  std::ifstream in(entry);
  std::string digest;
  if (!(in >> digest)) return {};
  return IsHexDigest(digest) ? digest : std::string();
}

void WriteEntry(const std::filesystem::path& entry, const std::string& digest) {
  std::error_code error;
  std::filesystem::create_directories(entry.parent_path(), error);
  if (error) return;
  const std::filesystem::path temporary =
      entry.parent_path() / ("." + entry.filename().string() + "." +
                             std::to_string(::getpid()) + ".tmp");
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << digest << '\n';
    if (!out.flush()) {
      std::filesystem::remove(temporary, error);
      return;
    }
  }
  std::filesystem::rename(temporary, entry, error);
  if (error) std::filesystem::remove(temporary, error);
}

}  // namespace

std::filesystem::path HashCacheDir() {
  if (const char* dir = std::getenv("QUANTD_CACHE_DIR"); dir && *dir) {
    return dir;
  }
  if (const char* dir = std::getenv("XDG_CACHE_HOME"); dir && *dir) {
    return std::filesystem::path(dir) / "quantd";
  }
  if (const char* home = std::getenv("HOME"); home && *home) {
    return std::filesystem::path(home) / ".cache" / "quantd";
  }
  return {};
}

std::string CachedSha256File(const std::filesystem::path& path,
                             const std::filesystem::path& cache_dir) {
  const std::string key = cache_dir.empty() ? std::string() : FileKey(path);
  if (key.empty()) return contract::Sha256FileHex(path);
  contract::Sha256 hash;
  hash.Update(key);
  const std::filesystem::path entry = cache_dir / "sha256" / hash.FinishHex();
  std::string digest = ReadEntry(entry);
  if (!digest.empty()) return digest;
  digest = contract::Sha256FileHex(path);
  // The file may have changed while it was hashed: keep the entry only
  // when its identity is still the one hashed.
  if (FileKey(path) == key) WriteEntry(entry, digest);
  return digest;
}

}  // namespace quantd::engine::io
