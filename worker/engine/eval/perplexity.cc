#include "worker/engine/eval/perplexity.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>

#include "worker/engine/eval/eval_error.h"

namespace quantd::engine::eval {
namespace {

void CheckOptions(const model::Model& model, const PerplexityOptions& options,
                  size_t token_count) {
  if (model.output_kind() != model::OutputKind::kLogits) {
    throw EvalError("perplexity needs a causal LM; " +
                    model.source().Describe() + " is an encoder");
  }
  if (options.seq_len < 2) {
    throw EvalError("seq_len must be at least 2, got " +
                    std::to_string(options.seq_len));
  }
  if (options.batch_size < 1) {
    throw EvalError("batch_size must be at least 1, got " +
                    std::to_string(options.batch_size));
  }
  if (options.max_tokens < 0 ||
      (options.max_tokens > 0 && options.max_tokens < options.seq_len)) {
    throw EvalError("max_tokens must be 0 (all) or at least seq_len " +
                    std::to_string(options.seq_len) + ", got " +
                    std::to_string(options.max_tokens));
  }
  if (options.head_chunk_tokens < 1 || options.resident_hidden_bytes < 0) {
    throw EvalError(
        "head_chunk_tokens must be positive and resident_hidden_bytes not "
        "negative");
  }
  if (static_cast<int64_t>(token_count) < options.seq_len) {
    throw EvalError("the text has " + std::to_string(token_count) +
                    " tokens, fewer than one window of seq_len " +
                    std::to_string(options.seq_len));
  }
}

// Σ over the shifted targets of each window's NLL, [B] in float64. The
// head runs on slices of positions so that only a slice of logits exists.
at::Tensor WindowNllSums(const model::Model& model, const at::Tensor& hidden,
                         const at::Tensor& ids,
                         const model::ForwardContext& context,
                         int64_t head_chunk_tokens) {
  int64_t batch = hidden.size(0), predicted = hidden.size(1) - 1;
  int64_t step = std::max<int64_t>(1, head_chunk_tokens / batch);
  at::Tensor targets = ids.to(hidden.device());
  at::Tensor sums = at::zeros({batch}, hidden.options().dtype(at::kDouble));
  for (int64_t start = 0; start < predicted; start += step) {
    int64_t length = std::min(step, predicted - start);
    at::Tensor logits = model.Head(hidden.narrow(1, start, length), context);
    at::Tensor nll = at::cross_entropy_loss(
        logits.reshape({-1, logits.size(-1)}),
        targets.narrow(1, start + 1, length).reshape({-1}), {},
        at::Reduction::None);
    sums += nll.view({batch, length}).to(at::kDouble).sum(1);
  }
  return sums.cpu();
}

// Σ NLL of each window of a group [G, L], [G] in float64: every block is
// loaded once and runs over the group in forward batches of batch_size.
at::Tensor GroupNllSums(const model::Model& model, const at::Tensor& ids,
                        const PerplexityOptions& options,
                        const model::Model::BlockPreparer& prepare) {
  std::vector<at::Tensor> batches = ids.split(options.batch_size);
  // Contexts depend only on the batch shape: one per distinct size.
  std::map<int64_t, model::ForwardContext> contexts;
  std::vector<at::Tensor> hidden;
  for (const at::Tensor& batch : batches) {
    auto [it, added] = contexts.try_emplace(batch.size(0));
    if (added) it->second = model.MakeContext(batch);
    hidden.push_back(model.Embed(batch, it->second));
  }
  for (int64_t i = 0; i < model.NumBlocks(); ++i) {
    std::unique_ptr<model::Block> block = model.LoadBlock(i);
    if (prepare) prepare(*block);
    for (size_t b = 0; b < hidden.size(); ++b) {
      hidden[b] = block->Forward(hidden[b], contexts[batches[b].size(0)]);
    }
  }
  std::vector<at::Tensor> sums;
  for (size_t b = 0; b < hidden.size(); ++b) {
    sums.push_back(WindowNllSums(model, hidden[b], batches[b],
                                 contexts[batches[b].size(0)],
                                 options.head_chunk_tokens));
    hidden[b] = at::Tensor();  // Frees this batch's states early.
  }
  return at::cat(sums);
}

// Windows per group: as many whole batches as resident_hidden_bytes holds,
// at least one.
int64_t GroupWindows(const model::Model& model,
                     const PerplexityOptions& options) {
  int64_t window_bytes =
      options.seq_len * model.config().hidden_size * int64_t{4};
  int64_t batches =
      options.resident_hidden_bytes / (window_bytes * options.batch_size);
  return std::max<int64_t>(1, batches) * options.batch_size;
}

// The reference scripts' figure: nll_i = loss_i · L, ppl = exp(Σ nll_i /
// (n·L)).
double PapersPerplexity(const std::vector<double>& window_losses,
                        int64_t seq_len) {
  const auto length = static_cast<double>(seq_len);
  double scaled = 0.0;
  for (double loss : window_losses) scaled += loss * length;
  return std::exp(scaled /
                  (static_cast<double>(window_losses.size()) * length));
}

}  // namespace

std::string ReadText(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw EvalError(path.string() + ": cannot open the data file");
  std::string raw((std::istreambuf_iterator<char>(file)),
                  std::istreambuf_iterator<char>());
  if (file.bad()) throw EvalError(path.string() + ": read error");
  std::string text;
  text.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\r') {
      text.push_back(raw[i]);
    } else if (i + 1 >= raw.size() || raw[i + 1] != '\n') {
      text.push_back('\n');  // A lone CR ends a line too.
    }
  }
  return text;
}

std::vector<int32_t> TokenizeText(const tokenizer::Tokenizer& tokenizer,
                                  const std::string& text) {
  return tokenizer.Encode(text, /*add_special=*/true);
}

PerplexityResult EvaluatePerplexity(const model::Model& model,
                                    std::span<const int32_t> tokens,
                                    const PerplexityOptions& options,
                                    const model::Model::BlockPreparer& prepare,
                                    const PerplexityProgress& progress) {
  CheckOptions(model, options, tokens.size());
  at::NoGradGuard no_grad;
  const int64_t length = options.seq_len;
  int64_t windows = static_cast<int64_t>(tokens.size()) / length;
  if (options.max_tokens > 0) {
    windows = std::min(windows, options.max_tokens / length);
  }
  at::Tensor all =
      at::tensor(at::ArrayRef<int32_t>(tokens.data(), windows * length),
                 at::kInt)
          .to(at::kLong)
          .view({windows, length});
  PerplexityResult result;
  result.windows = windows;
  result.seq_len = length;
  result.tokens = windows * length;
  result.targets = windows * (length - 1);
  result.text_tokens = static_cast<int64_t>(tokens.size());
  const int64_t group = GroupWindows(model, options);
  for (int64_t first = 0; first < windows; first += group) {
    int64_t count = std::min(group, windows - first);
    at::Tensor sums =
        GroupNllSums(model, all.narrow(0, first, count), options, prepare);
    for (int64_t i = 0; i < count; ++i) {
      double sum = sums[i].item<double>();
      result.nll_sum += sum;
      result.window_losses.push_back(sum / static_cast<double>(length - 1));
    }
    if (progress) progress(first + count, windows);
  }
  result.ppl = PapersPerplexity(result.window_losses, length);
  result.token_ppl =
      std::exp(result.nll_sum / static_cast<double>(result.targets));
  return result;
}

}  // namespace quantd::engine::eval
