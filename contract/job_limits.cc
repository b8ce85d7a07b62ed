#include "contract/job_limits.h"

#include <string>

#include "contract/contract_error.h"

namespace quantd::contract {

void CheckRange(std::string_view field, int64_t value, int64_t low,
                int64_t high) {
  if (value >= low && value <= high) return;
  throw ContractError(std::string(field), "must be in " + std::to_string(low) +
                                              ".." + std::to_string(high) +
                                              ", got " + std::to_string(value));
}

void CheckCalibrationSize(int64_t n_samples, int64_t calibration_seq_len,
                          int64_t evaluation_seq_len) {
  CheckRange("calibration.n_samples", n_samples, 1, kMaxSamples);
  if (calibration_seq_len != 0) {
    CheckRange("calibration.seq_len", calibration_seq_len, kMinSeqLen,
               kMaxSeqLen);
  }
  if (evaluation_seq_len != 0) {
    CheckRange("evaluation.seq_len", evaluation_seq_len, kMinSeqLen,
               kMaxSeqLen);
  }
}

void CheckEvaluationBudget(int64_t max_tokens, int64_t seq_len) {
  if (max_tokens == 0 || max_tokens >= seq_len) return;
  throw ContractError("evaluation.max_tokens",
                      "must be 0 (all) or at least evaluation.seq_len (" +
                          std::to_string(seq_len) + "), got " +
                          std::to_string(max_tokens));
}

}  // namespace quantd::contract
