// The numeric rules of a JobSpec's calibration and evaluation: ranges and
// defaults, checked by quantd at submit and by quantd-engine on spec.json.
//
// Plain values and functions; no LibTorch, gRPC or protobuf. Thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

namespace quantd::contract {

inline constexpr int64_t kDefaultSamples = 128;
inline constexpr int64_t kMaxSamples = 4096;
inline constexpr int64_t kMinSeqLen = 8;
inline constexpr int64_t kMaxSeqLen = 32768;
// A seq_len of 0 means the model kind's default.
inline constexpr int64_t kDefaultDecoderSeqLen = 2048;
inline constexpr int64_t kDefaultEncoderSeqLen = 128;

// Throws ContractError(field) "must be in LOW..HIGH, got VALUE".
void CheckRange(std::string_view field, int64_t value, int64_t low,
                int64_t high);

// calibration.n_samples in 1..4096; calibration.seq_len and
// evaluation.seq_len 0 (the default) or in 8..32768. Throws ContractError.
void CheckCalibrationSize(int64_t n_samples, int64_t calibration_seq_len,
                          int64_t evaluation_seq_len);

// The evaluation reads whole windows: a token budget smaller than one
// window would fail the job only at its very end. Throws ContractError
// ("evaluation.max_tokens") unless max_tokens is 0 (all) or >= seq_len.
void CheckEvaluationBudget(int64_t max_tokens, int64_t seq_len);

}  // namespace quantd::contract
