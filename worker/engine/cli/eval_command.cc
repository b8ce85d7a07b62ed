#include "worker/engine/cli/eval_command.h"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "worker/engine/cli/command_support.h"
#include "worker/engine/eval/perplexity.h"
#include "worker/engine/io/model_config.h"
#include "worker/engine/model/model_factory.h"

namespace quantd::engine::cli {
namespace {

struct EvalFlags {
  std::string model;
  std::string data;
  int64_t seq_len = 2048;
  int64_t max_tokens = 0;
  std::string device = "cpu";
  int64_t batch_size = 1;
  int threads = 0;
  std::string matmul_dtype = "float32";
  bool json = false;
};

class Stopwatch {
 public:
  double Seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         start_)
        .count();
  }

 private:
  std::chrono::steady_clock::time_point start_ =
      std::chrono::steady_clock::now();
};

// The --matmul-dtype names and the dtypes they select; nullopt for any other.
std::optional<at::ScalarType> MatmulDtype(const std::string& name) {
  if (name == "float32") return at::kFloat;
  if (name == "bfloat16") return at::kBFloat16;
  return std::nullopt;
}

void CheckFlags(const EvalFlags& flags) {
  if (!std::filesystem::exists(flags.model)) {
    throw UsageError("--model " + flags.model + ": no such file or directory");
  }
  if (!std::filesystem::is_regular_file(flags.data)) {
    throw UsageError("--data " + flags.data + ": no such file");
  }
  if (flags.seq_len < 2) {
    throw UsageError("--seq-len must be at least 2, got " +
                     std::to_string(flags.seq_len));
  }
  if (flags.max_tokens < 0 ||
      (flags.max_tokens > 0 && flags.max_tokens < flags.seq_len)) {
    throw UsageError(
        "--max-tokens must be 0 (the whole text) or at least "
        "--seq-len " +
        std::to_string(flags.seq_len) + ", got " +
        std::to_string(flags.max_tokens));
  }
  if (!MatmulDtype(flags.matmul_dtype)) {
    throw UsageError("--matmul-dtype must be float32 or bfloat16, got '" +
                     flags.matmul_dtype + "'");
  }
  if (flags.batch_size < 1) {
    throw UsageError("--batch-size must be at least 1, got " +
                     std::to_string(flags.batch_size));
  }
}

// Progress on an interactive stderr only; pipes and logs stay clean.
eval::PerplexityProgress ProgressPrinter(bool enabled) {
  if (!enabled || isatty(STDERR_FILENO) == 0) return {};
  return [](int64_t done, int64_t total) {
    std::cerr << "\rwindows " << done << "/" << total << std::flush;
    if (done == total) std::cerr << "\n";
  };
}

struct Timings {
  double load = 0, tokenize = 0, eval = 0, total = 0;
  // Process CPU time (all threads) of the evaluation: a steadier measure
  // than wall time on a shared machine.
  double eval_cpu = 0;
};

double ProcessCpuSeconds() {
  return static_cast<double>(std::clock()) / CLOCKS_PER_SEC;
}

void PrintHuman(const EvalFlags& flags, const model::LoadedModel& loaded,
                const eval::PerplexityResult& result, const Timings& times,
                int threads) {
  const io::ModelConfig& config = loaded.config;
  std::cout << std::setprecision(6) << "model       " << flags.model << " ("
            << io::ArchitectureName(config.architecture) << ", "
            << config.num_layers << " blocks)\n"
            << "data        " << flags.data << ": " << result.text_tokens
            << " tokens\n"
            << "windows     " << result.windows << " x " << result.seq_len
            << " = " << result.tokens << " tokens\n"
            << "ppl         " << result.ppl << " (exp of mean token NLL "
            << result.token_ppl << ")\n"
            << std::setprecision(4) << "seconds     " << times.total
            << " (load " << times.load << ", tokenize " << times.tokenize
            << ", eval " << times.eval << ", eval CPU " << times.eval_cpu
            << "); " << result.tokens / times.eval << " tokens/s on "
            << flags.device << " with " << threads << " threads, "
            << flags.matmul_dtype << " matmuls\n"
            << "peak RSS    " << PeakRssBytes() / (1024.0 * 1024.0) << " MiB\n";
}

nlohmann::json ToJson(const EvalFlags& flags, const model::LoadedModel& loaded,
                      const eval::PerplexityResult& result,
                      const Timings& times, int threads) {
  return {{"model", flags.model},
          {"architecture", io::ArchitectureName(loaded.config.architecture)},
          {"data", flags.data},
          {"ppl", result.ppl},
          {"token_ppl", result.token_ppl},
          {"nll_sum", result.nll_sum},
          {"tokens", result.tokens},
          {"targets", result.targets},
          {"windows", result.windows},
          {"seq_len", result.seq_len},
          {"text_tokens", result.text_tokens},
          {"batch_size", flags.batch_size},
          {"device", flags.device},
          {"threads", threads},
          {"matmul_dtype", flags.matmul_dtype},
          {"seconds", times.total},
          {"load_seconds", times.load},
          {"tokenize_seconds", times.tokenize},
          {"eval_seconds", times.eval},
          {"eval_cpu_seconds", times.eval_cpu},
          {"tokens_per_second", result.tokens / times.eval},
          {"peak_rss_bytes", PeakRssBytes()}};
}

int RunEval(const EvalFlags& flags) {
  CheckFlags(flags);
  int threads = ApplyThreadsFlag(flags.threads);
  model::ModelOptions options;
  options.device = ParseDeviceFlag(flags.device);
  options.matmul_dtype = *MatmulDtype(flags.matmul_dtype);
  Stopwatch total;
  Timings times;
  model::LoadedModel loaded = model::LoadModel(flags.model, options);
  if (loaded.tokenizer == nullptr) {
    throw UsageError("--model " + flags.model + ": the model has no tokenizer");
  }
  if (loaded.model->output_kind() != model::OutputKind::kLogits) {
    throw UsageError("--model " + flags.model +
                     ": an encoder has no perplexity (causal LMs only)");
  }
  times.load = total.Seconds();
  std::vector<int32_t> tokens =
      eval::TokenizeText(*loaded.tokenizer, eval::ReadText(flags.data));
  times.tokenize = total.Seconds() - times.load;
  eval::PerplexityOptions eval_options;
  eval_options.seq_len = flags.seq_len;
  eval_options.max_tokens = flags.max_tokens;
  eval_options.batch_size = flags.batch_size;
  Stopwatch eval_time;
  double cpu_start = ProcessCpuSeconds();
  eval::PerplexityResult result = eval::EvaluatePerplexity(
      *loaded.model, tokens, eval_options, {}, ProgressPrinter(!flags.json));
  times.eval = eval_time.Seconds();
  times.eval_cpu = ProcessCpuSeconds() - cpu_start;
  times.total = total.Seconds();
  if (flags.json) {
    std::cout << ToJson(flags, loaded, result, times, threads).dump() << "\n";
  } else {
    PrintHuman(flags, loaded, result, times, threads);
  }
  return 0;
}

}  // namespace

void AddEvalCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<EvalFlags>();
  CLI::App* command = app.add_subcommand(
      "eval", "perplexity of a causal LM on a text file (papers' protocol)");
  command->add_option("--model", flags->model, "GGUF file or HF directory")
      ->required();
  command->add_option("--data", flags->data, "text file, e.g. wiki.test.raw")
      ->required();
  command->add_option("--seq-len", flags->seq_len,
                      "tokens per window (default 2048)");
  command->add_option("--max-tokens", flags->max_tokens,
                      "token budget in whole windows (default 0: all)");
  command->add_option("--device", flags->device,
                      "cpu, cuda[:N] or auto (default cpu)");
  command->add_option("--batch-size", flags->batch_size,
                      "windows run through the blocks together (default 1)");
  command->add_option("--threads", flags->threads,
                      "intra-op threads (default 0: every core)");
  command->add_option("--matmul-dtype", flags->matmul_dtype,
                      "float32 (default, the reference) or bfloat16: Linear "
                      "products in bfloat16 with float32 accumulation");
  command->add_flag("--json", flags->json, "print one JSON object");
  command->callback([flags, exit_code] {
    *exit_code = ReportErrors("eval", [&] { return RunEval(*flags); });
  });
}

}  // namespace quantd::engine::cli
