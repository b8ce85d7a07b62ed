#include "worker/engine/pipeline/calibration_data.h"

#include <c10/util/StringUtil.h>

#include <fstream>
#include <random>
#include <sstream>

#include "worker/engine/pipeline/job_spec.h"

namespace quantd::engine::pipeline {
namespace {

at::Tensor Windows(std::span<const int32_t> tokens,
                   const std::vector<int64_t>& starts, int64_t seq_len) {
  at::Tensor windows =
      at::empty({static_cast<int64_t>(starts.size()), seq_len}, at::kLong);
  int64_t* out = windows.data_ptr<int64_t>();
  for (int64_t start : starts) {
    for (int64_t i = 0; i < seq_len; ++i) *out++ = tokens[start + i];
  }
  return windows;
}

}  // namespace

std::vector<int32_t> TokenizeTextFile(const std::filesystem::path& path,
                                      const tokenizer::Tokenizer& tokenizer,
                                      const std::string& field) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw SpecError(field, "cannot read " + path.string());
  std::stringstream text;
  text << in.rdbuf();
  return tokenizer.Encode(text.str(), /*add_special=*/false);
}

at::Tensor DrawWindows(std::span<const int32_t> tokens, int64_t count,
                       int64_t seq_len, uint64_t seed,
                       const std::string& field) {
  const int64_t available = static_cast<int64_t>(tokens.size());
  if (available < seq_len) {
    throw SpecError(
        field, c10::str("has ", available, " tokens, fewer than one window of ",
                        seq_len));
  }
  std::mt19937_64 generator(seed);
  const uint64_t positions = static_cast<uint64_t>(available - seq_len + 1);
  std::vector<int64_t> starts;
  for (int64_t i = 0; i < count; ++i) {
    starts.push_back(static_cast<int64_t>(generator() % positions));
  }
  return Windows(tokens, starts, seq_len);
}

at::Tensor ConsecutiveWindows(std::span<const int32_t> tokens, int64_t seq_len,
                              int64_t max_tokens, const std::string& field) {
  int64_t count = static_cast<int64_t>(tokens.size()) / seq_len;
  if (max_tokens > 0) count = std::min(count, max_tokens / seq_len);
  if (count < 1) {
    throw SpecError(field,
                    c10::str(tokens.size(), " tokens (max_tokens ", max_tokens,
                             ") hold no window of ", seq_len));
  }
  std::vector<int64_t> starts;
  for (int64_t i = 0; i < count; ++i) starts.push_back(i * seq_len);
  return Windows(tokens, starts, seq_len);
}

}  // namespace quantd::engine::pipeline
