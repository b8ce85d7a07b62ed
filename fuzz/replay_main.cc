// Corpus replay for builds without libFuzzer (GCC, the regular CI): feeds
// LLVMFuzzerTestOneInput every file under the given paths, then
// --mutations=N deterministic mutations of each (bit flips, boundary bytes
// and integers, insertions, deletions, duplications, truncations, splices
// with another file). A parser change that crashes on a seed or on a near
// neighbour of one is caught without a fuzzing engine, the same way on every
// run. A crash or sanitizer report ends the process, as under libFuzzer; the
// driver names the input that was running when it dies, and --verbose
// prints each one before running it.
//
//   <target>_replay [--mutations=N] [--seed=S] [--verbose] PATH...
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc,
                                                          char*** argv);
extern "C" __attribute__((weak)) void __sanitizer_set_death_callback(
    void (*callback)());

namespace {

using Bytes = std::vector<uint8_t>;

// What is running now, for the crash report; written before each input so
// that a signal handler can print it without allocating.
char current_input[512] = "(none)";

void ReportCurrentInput() {
  const char prefix[] = "\nreplay: crashed on input: ";
  [[maybe_unused]] ssize_t ignored = ::write(2, prefix, sizeof(prefix) - 1);
  ignored = ::write(2, current_input, std::strlen(current_input));
  ignored = ::write(2, "\n", 1);
}

void OnFatalSignal(int signal) {
  ReportCurrentInput();
  ::raise(signal);  // SA_RESETHAND restored the default action.
}

void InstallCrashReporting() {
  struct sigaction action = {};
  action.sa_handler = OnFatalSignal;
  action.sa_flags = SA_RESETHAND;
  for (int signal : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL}) {
    ::sigaction(signal, &action, nullptr);
  }
  if (__sanitizer_set_death_callback != nullptr) {
    __sanitizer_set_death_callback(ReportCurrentInput);
  }
}

// splitmix64: small, fast and the same on every platform.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform enough in [0, bound); bound > 0.
  size_t Below(size_t bound) { return static_cast<size_t>(Next() % bound); }

 private:
  uint64_t state_;
};

constexpr std::array<uint8_t, 16> kBoundaryBytes = {
    0,   1,   0x7f, 0x80, 0xff, '0', '9',  '"',
    '{', '}', '[',  ']',  ':',  ',', '\n', '-'};
constexpr std::array<uint64_t, 8> kBoundaryIntegers = {
    0,          1,          0x7fffffffULL, 0x80000000ULL, 0xffffffffULL,
    1ULL << 32, ~0ULL >> 1, ~0ULL};

void MutateOnce(Bytes& bytes, const Bytes& other, Random& random) {
  const size_t size = bytes.size();
  switch (random.Below(8)) {
    case 0:  // Flip one bit.
      if (size > 0) bytes[random.Below(size)] ^= 1u << random.Below(8);
      break;
    case 1:  // A boundary byte.
      if (size > 0) {
        bytes[random.Below(size)] =
            kBoundaryBytes[random.Below(kBoundaryBytes.size())];
      }
      break;
    case 2: {  // Insert 1..4 random bytes.
      const size_t at = random.Below(size + 1);
      const size_t count = 1 + random.Below(4);
      for (size_t i = 0; i < count; ++i) {
        bytes.insert(bytes.begin() + static_cast<ptrdiff_t>(at),
                     static_cast<uint8_t>(random.Next()));
      }
      break;
    }
    case 3: {  // Delete up to 16 bytes.
      if (size == 0) break;
      const size_t at = random.Below(size);
      const size_t count = 1 + random.Below(std::min<size_t>(16, size - at));
      bytes.erase(bytes.begin() + static_cast<ptrdiff_t>(at),
                  bytes.begin() + static_cast<ptrdiff_t>(at + count));
      break;
    }
    case 4: {  // Copy a chunk elsewhere.
      if (size == 0) break;
      const size_t from = random.Below(size);
      const size_t count = 1 + random.Below(std::min<size_t>(64, size - from));
      const Bytes chunk(bytes.begin() + static_cast<ptrdiff_t>(from),
                        bytes.begin() + static_cast<ptrdiff_t>(from + count));
      bytes.insert(bytes.begin() + static_cast<ptrdiff_t>(random.Below(size)),
                   chunk.begin(), chunk.end());
      break;
    }
    case 5:  // Truncate.
      bytes.resize(random.Below(size + 1));
      break;
    case 6: {  // A boundary integer, little-endian, over 1..8 bytes.
      if (size == 0) break;
      const size_t at = random.Below(size);
      uint64_t value =
          kBoundaryIntegers[random.Below(kBoundaryIntegers.size())];
      for (size_t i = at; i < std::min(size, at + 8); ++i, value >>= 8) {
        bytes[i] = static_cast<uint8_t>(value);
      }
      break;
    }
    default: {  // Splice: this head, another file's tail.
      const size_t at = random.Below(size + 1);
      const size_t from = random.Below(other.size() + 1);
      bytes.resize(at);
      bytes.insert(bytes.end(), other.begin() + static_cast<ptrdiff_t>(from),
                   other.end());
      break;
    }
  }
}

struct Options {
  size_t mutations = 0;
  uint64_t seed = 1;
  bool verbose = false;
  std::vector<std::string> paths;
};

bool ParseOptions(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with("--mutations=")) {
      options.mutations = std::strtoull(argv[i] + 12, nullptr, 10);
    } else if (arg.starts_with("--seed=")) {
      options.seed = std::strtoull(argv[i] + 7, nullptr, 10);
    } else if (arg == "--verbose") {
      options.verbose = true;
    } else if (arg.starts_with("-")) {
      std::fprintf(stderr, "replay: unknown flag %s\n", argv[i]);
      return false;
    } else {
      options.paths.emplace_back(arg);
    }
  }
  return !options.paths.empty();
}

// Every regular file under `paths`, sorted, so runs are reproducible.
std::vector<std::filesystem::path> CorpusFiles(
    const std::vector<std::string>& paths) {
  std::vector<std::filesystem::path> files;
  for (const std::string& path : paths) {
    if (std::filesystem::is_directory(path)) {
      for (const auto& entry :
           std::filesystem::recursive_directory_iterator(path)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
    } else {
      files.emplace_back(path);
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

Bytes ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
    std::exit(2);
  }
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

void RunOne(const Bytes& input, const std::string& name, bool verbose) {
  std::snprintf(current_input, sizeof(current_input), "%s (%zu bytes)",
                name.c_str(), input.size());
  if (verbose) std::fprintf(stderr, "replay: %s\n", current_input);
  // A copy in a buffer of its exact size, so that ASan sees any overread.
  const std::unique_ptr<uint8_t[]> copy(new uint8_t[input.size() + 1]);
  std::copy(input.begin(), input.end(), copy.get());
  LLVMFuzzerTestOneInput(copy.get(), input.size());
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseOptions(argc, argv, options)) {
    std::fprintf(stderr,
                 "usage: %s [--mutations=N] [--seed=S] [--verbose] PATH...\n",
                 argv[0]);
    return 2;
  }
  InstallCrashReporting();
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  const std::vector<std::filesystem::path> files = CorpusFiles(options.paths);
  std::vector<Bytes> corpus;
  for (const auto& file : files) corpus.push_back(ReadFile(file));
  size_t runs = 0;
  for (size_t i = 0; i < corpus.size(); ++i) {
    RunOne(corpus[i], files[i].string(), options.verbose);
    ++runs;
    for (size_t m = 0; m < options.mutations; ++m) {
      Random random(options.seed * 1000003u + i * 7919u + m);
      Bytes mutated = corpus[i];
      const Bytes& other = corpus[random.Below(corpus.size())];
      const size_t rounds = 1 + random.Below(4);
      for (size_t r = 0; r < rounds; ++r) MutateOnce(mutated, other, random);
      RunOne(mutated, files[i].string() + " mutation " + std::to_string(m),
             options.verbose);
      ++runs;
    }
  }
  std::printf("replay: %zu inputs from %zu files, no crash\n", runs,
              files.size());
  return files.empty() ? 1 : 0;
}
