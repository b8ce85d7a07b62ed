#include "worker/engine/io/sha256_cache.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "contract/mapped_file.h"
#include "contract/sha256.h"
#include "worker/engine/io/format_error.h"
#include "worker/engine/io/io_test_util.h"

namespace quantd::engine::io {
namespace {

int CountEntries(const std::filesystem::path& cache) {
  int count = 0;
  std::error_code error;
  for (const auto& entry :
       std::filesystem::directory_iterator(cache / "sha256", error)) {
    count += entry.is_regular_file() ? 1 : 0;
  }
  return count;
}

TEST(Sha256CacheTest, RemembersAnUnchangedFileAndNoticesChanges) {
  testing::TempDir dir;
  const std::filesystem::path cache = dir.path() / "cache";
  const std::filesystem::path file = dir.Write("model.bin", "first");
  const std::string first = contract::Sha256FileHex(file);
  EXPECT_EQ(CachedSha256File(file, cache), first);
  ASSERT_EQ(CountEntries(cache), 1);

  // The entry is what a second call reads: a planted digest comes back,
  // which shows the file was not hashed again.
  const std::filesystem::path entry =
      std::filesystem::directory_iterator(cache / "sha256")->path();
  const std::string planted(64, 'a');
  std::ofstream(entry, std::ios::trunc) << planted << "\n";
  EXPECT_EQ(CachedSha256File(file, cache), planted);

  // Rewritten in place with the same size: a new identity, a new hash.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::ofstream(file, std::ios::trunc) << "other";
  EXPECT_EQ(CachedSha256File(file, cache), contract::Sha256FileHex(file));
  EXPECT_NE(contract::Sha256FileHex(file), first);
}

TEST(Sha256CacheTest, MalformedEntriesAreRecomputed) {
  testing::TempDir dir;
  const std::filesystem::path cache = dir.path() / "cache";
  const std::filesystem::path file = dir.Write("model.bin", "contents");
  (void)CachedSha256File(file, cache);
  const std::filesystem::path entry =
      std::filesystem::directory_iterator(cache / "sha256")->path();
  std::ofstream(entry, std::ios::trunc) << "not a digest\n";
  EXPECT_EQ(CachedSha256File(file, cache), contract::Sha256FileHex(file));
  std::ifstream in(entry);
  std::string stored;
  in >> stored;
  EXPECT_EQ(stored, contract::Sha256FileHex(file));
}

TEST(Sha256CacheTest, AnUnusableCacheOnlyCostsTheHash) {
  testing::TempDir dir;
  const std::filesystem::path file = dir.Write("model.bin", "contents");
  // A regular file where the cache directory should be.
  const std::filesystem::path blocked = dir.Write("blocked", "x");
  EXPECT_EQ(CachedSha256File(file, blocked), contract::Sha256FileHex(file));
  EXPECT_EQ(CachedSha256File(file, ""), contract::Sha256FileHex(file));
  EXPECT_THROW(CachedSha256File(dir.path() / "missing", dir.path() / "c"),
               FormatError);
}

TEST(MappedFileTest, EvictedPagesReadBackUnchanged) {
  testing::TempDir dir;
  std::string bytes(3 * 4096 + 100, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i);
  const contract::MappedFile file(dir.Write("data.bin", bytes));
  file.Evict(file.data());
  file.Evict(file.data().subspan(5, 5000));
  const std::string back(reinterpret_cast<const char*>(file.data().data()),
                         file.data().size());
  EXPECT_EQ(back, bytes);
}

}  // namespace
}  // namespace quantd::engine::io
