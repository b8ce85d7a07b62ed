// CachedSha256File: Sha256File remembered across runs, so a job that
// starts or resumes on a model of many gigabytes does not hash it again.
// An entry is keyed by the file's identity as the kernel reports it
// (device, inode, size, modification and status-change times in
// nanoseconds, absolute path): rewriting, truncating, replacing or
// touching the file changes the key, and the status-change time cannot be
// set back by a user. Entries are small files "<dir>/sha256/<key digest>"
// holding the hex digest, written to a temporary name and renamed.
//
// The cache directory is $QUANTD_CACHE_DIR, else $XDG_CACHE_HOME/quantd,
// else $HOME/.cache/quantd. A cache that cannot be read or written is
// ignored (the file is hashed as without one); a malformed entry is
// recomputed and replaced.
//
// Thread-safety: safe from any number of threads and processes (entries
// are renamed into place whole).
#pragma once

#include <filesystem>
#include <string>

namespace quantd::engine::io {

// Where entries live; empty when no directory can be named.
std::filesystem::path HashCacheDir();

// Lower-case hex SHA-256 of `path`, from the cache under `cache_dir` when
// the file is unchanged. Throws FormatError (as Sha256File) when the file
// cannot be read.
std::string CachedSha256File(const std::filesystem::path& path,
                             const std::filesystem::path& cache_dir);
inline std::string CachedSha256File(const std::filesystem::path& path) {
  return CachedSha256File(path, HashCacheDir());
}

}  // namespace quantd::engine::io
