// Identifiers: job ids that sort by creation time ("j-" + a 26-character
// ULID in Crockford base32: 48 bits of milliseconds, 80 random bits), and
// opaque random tokens.
//
// Thread-safety: IdGenerator is safe to call from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <random>
#include <string>

namespace quantd {

class IdGenerator {
 public:
  // Milliseconds since the Unix epoch; injected for tests.
  using Clock = std::function<uint64_t()>;

  IdGenerator();
  IdGenerator(Clock clock, uint64_t seed);

  // "j-01J9Z3..." — lexicographic order follows creation time; ids created
  // in the same millisecond are ordered by a monotonic random part.
  std::string NewJobId();
  // 32 hex characters of randomness (tokens, request ids).
  std::string NewToken();

 private:
  std::mutex mu_;
  Clock clock_;
  std::mt19937_64 random_;
  uint64_t last_millis_ = 0;
  // The 80-bit random part of the last id, as 16 + 64 bits.
  uint16_t last_high_ = 0;
  uint64_t last_low_ = 0;
};

// True when `id` has the shape NewJobId produces.
bool IsValidJobId(const std::string& id);

}  // namespace quantd
