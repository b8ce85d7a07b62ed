#include "worker/engine/eval/similarity.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>

#include "worker/engine/eval/eval_error.h"

namespace quantd::engine::eval {
namespace {

void CheckOptions(const EmbeddingOptions& options) {
  if (options.batch_size < 1) {
    throw EvalError("batch_size must be at least 1, got " +
                    std::to_string(options.batch_size));
  }
  if (options.max_tokens < 2) {
    throw EvalError("max_tokens must be at least 2, got " +
                    std::to_string(options.max_tokens));
  }
}

// ids [B, T_max] padded with `pad_id`, and the matching mask.
std::pair<at::Tensor, at::Tensor> PadBatch(
    const std::vector<std::vector<int32_t>>& ids, size_t first, size_t count,
    int32_t pad_id) {
  size_t longest = 0;
  for (size_t i = first; i < first + count; ++i) {
    longest = std::max(longest, ids[i].size());
  }
  auto rows = static_cast<int64_t>(count);
  auto columns = static_cast<int64_t>(longest);
  at::Tensor batch = at::full({rows, columns}, pad_id, at::kLong);
  at::Tensor mask = at::zeros({rows, columns}, at::kLong);
  for (size_t i = 0; i < count; ++i) {
    const std::vector<int32_t>& row = ids[first + i];
    auto length = static_cast<int64_t>(row.size());
    auto index = static_cast<int64_t>(i);
    batch[index]
        .narrow(0, 0, length)
        .copy_(at::tensor(at::ArrayRef<int32_t>(row), at::kInt));
    mask[index].narrow(0, 0, length).fill_(1);
  }
  return {batch, mask};
}

}  // namespace

std::vector<std::vector<int32_t>> TokenizeSentences(
    const tokenizer::Tokenizer& tokenizer,
    const std::vector<std::string>& sentences,
    const EmbeddingOptions& options) {
  CheckOptions(options);
  const int32_t sep = tokenizer.Special().sep;
  const auto limit = static_cast<size_t>(options.max_tokens);
  std::vector<std::vector<int32_t>> all;
  for (const std::string& sentence : sentences) {
    std::vector<int32_t> ids = tokenizer.Encode(sentence, /*add_special=*/true);
    if (ids.size() > limit) {
      bool keep_sep = sep >= 0 && ids.back() == sep;
      ids.resize(limit);
      if (keep_sep) ids.back() = sep;
    }
    all.push_back(std::move(ids));
  }
  return all;
}

at::Tensor EmbedTokenIds(const model::Model& model,
                         const std::vector<std::vector<int32_t>>& ids,
                         int32_t pad_id, const EmbeddingOptions& options,
                         const model::Model::BlockPreparer& prepare) {
  CheckOptions(options);
  if (model.output_kind() != model::OutputKind::kEmbedding) {
    throw EvalError("embedding similarity needs an encoder; " +
                    model.source().Describe() + " is a causal LM");
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i].empty()) {
      throw EvalError("sentence " + std::to_string(i) + " has no tokens");
    }
  }
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> parts;
  const auto step = static_cast<size_t>(options.batch_size);
  for (size_t first = 0; first < ids.size(); first += step) {
    size_t count = std::min(step, ids.size() - first);
    auto [batch, mask] = PadBatch(ids, first, count, pad_id);
    parts.push_back(model.Forward(batch, mask, prepare).cpu());
  }
  if (parts.empty()) return at::empty({0, model.config().hidden_size});
  return at::cat(parts);
}

at::Tensor EmbedSentences(const model::Model& model,
                          const tokenizer::Tokenizer& tokenizer,
                          const std::vector<std::string>& sentences,
                          const EmbeddingOptions& options,
                          const model::Model::BlockPreparer& prepare) {
  int32_t pad = tokenizer.Special().pad >= 0 ? tokenizer.Special().pad : 0;
  return EmbedTokenIds(model, TokenizeSentences(tokenizer, sentences, options),
                       pad, options, prepare);
}

SimilarityResult CompareEmbeddings(const at::Tensor& a, const at::Tensor& b) {
  if (a.dim() != 2 || a.sizes() != b.sizes()) {
    throw EvalError("embeddings to compare must both be [N, C] of one shape");
  }
  at::Tensor x = a.to(at::kCPU, at::kDouble);
  at::Tensor y = b.to(at::kCPU, at::kDouble);
  at::Tensor cosines =
      (x * y).sum(1) / (x.norm(2, {1}) * y.norm(2, {1})).clamp_min(1e-300);
  SimilarityResult result;
  result.count = cosines.size(0);
  if (result.count == 0) return result;
  result.mean_cosine = cosines.mean().item<double>();
  result.min_cosine = cosines.min().item<double>();
  result.cosines.assign(cosines.data_ptr<double>(),
                        cosines.data_ptr<double>() + result.count);
  return result;
}

}  // namespace quantd::engine::eval
