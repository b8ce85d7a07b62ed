#include "common/ids.h"

#include <chrono>

#include "absl/numeric/int128.h"
#include "absl/strings/str_format.h"

namespace quantd {
namespace {

constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

uint64_t NowMillis() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
}

}  // namespace

IdGenerator::IdGenerator() : IdGenerator(NowMillis, std::random_device{}()) {}

IdGenerator::IdGenerator(Clock clock, uint64_t seed)
    : clock_(std::move(clock)), random_(seed) {}

std::string IdGenerator::NewJobId() {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t millis = clock_();
  if (millis <= last_millis_) {
    // Same (or earlier) millisecond: increment the random part so ids stay
    // strictly increasing.
    millis = last_millis_;
    if (++last_low_ == 0) ++last_high_;
  } else {
    last_millis_ = millis;
    last_high_ = static_cast<uint16_t>(random_());
    last_low_ = random_();
  }
  // 128 bits: 48 time | 16 high | 64 low, written as 26 base32 digits
  // (the first digit carries only 3 bits).
  std::string out(26, '0');
  absl::uint128 value = (absl::uint128(millis) << 80) |
                        (absl::uint128(last_high_) << 64) | last_low_;
  for (int i = 25; i >= 0; --i) {
    out[i] = kCrockford[absl::Uint128Low64(value & 31)];
    value >>= 5;
  }
  return "j-" + out;
}

std::string IdGenerator::NewToken() {
  std::lock_guard<std::mutex> lock(mu_);
  return absl::StrFormat("%016x%016x", random_(), random_());
}

bool IsValidJobId(const std::string& id) {
  if (id.size() != 28 || id.compare(0, 2, "j-") != 0) return false;
  for (size_t i = 2; i < id.size(); ++i) {
    bool found = false;
    for (const char* c = kCrockford; *c != '\0'; ++c) found |= (*c == id[i]);
    if (!found) return false;
  }
  return id[2] <= '7';  // The first digit carries 3 bits.
}

}  // namespace quantd
