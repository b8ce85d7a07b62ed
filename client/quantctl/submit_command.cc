#include "client/quantctl/submit_command.h"

#include <memory>
#include <string>

#include "client/quantctl/field_flags.h"
#include "client/quantctl/humanize.h"
#include "client/quantctl/input_upload.h"
#include "client/quantctl/job_calls.h"
#include "client/quantctl/job_waiter.h"
#include "client/quantctl/proto_names.h"
#include "client/quantctl/spec_flags.h"
#include "common/ids.h"
#include "contract/export_format.h"
#include "contract/method_catalogue.h"

namespace quantd::client {
namespace {

struct SubmitOptions {
  SubmitFlags flags;
  std::string upload = "auto";
  bool wait = false;
  bool dry_run = false;
  bool quiet = false;
};

void AddSchemeFlags(CLI::App& app, SchemeFlags& scheme) {
  app.add_option("--scheme", scheme.preset,
                 "preset w<W>a<A>[-pt][-g<N>]: W 2..8, A 2..8 or 16 (FP), "
                 "e.g. w8a8, w8a8-pt, w6a6, w4a16-g128");
  app.add_option("--w-bits", scheme.weight_bits, "weight bits, 2..8");
  app.add_option("--a-bits", scheme.activation_bits,
                 "activation bits, 2..8 (omit: floating point)");
  app.add_option("--w-granularity", scheme.weight_granularity,
                 "tensor, channel or group");
  app.add_option("--a-granularity", scheme.activation_granularity,
                 "tensor or token");
  app.add_option("--group-size", scheme.group_size,
                 "values per weight group (implies --w-granularity group)");
  app.add_option("--w-observer", scheme.weight_observer, "weight observer");
  app.add_option("--a-observer", scheme.activation_observer,
                 "activation observer (minmax, ema_minmax, quantile, ...)");
  app.add_flag("--symmetric", scheme.symmetric, "symmetric (narrow) grid");
  app.add_flag("--dynamic", scheme.dynamic,
               "dynamic activation ranges (recomputed each forward)");
}

void AddDataFlags(CLI::App& app, SubmitFlags& flags) {
  app.add_option("--calib-data", flags.calib_data,
                 "calibration text: path, file:// URI or sha256: blob");
  app.add_option("--samples", flags.samples, "calibration windows, 1..4096");
  app.add_option("--seq-len", flags.seq_len,
                 "tokens per calibration window, 8..32768");
  app.add_option("--seed", flags.seed, "seed of the window draw");
  app.add_option("--eval-data", flags.eval_data,
                 "evaluation text: path, file:// URI or sha256: blob");
  app.add_option("--eval-seq-len", flags.eval_seq_len,
                 "perplexity window, 8..32768");
  app.add_option("--max-tokens", flags.max_tokens,
                 "evaluate at most this many tokens (0: all)");
  app.add_flag("--no-eval", flags.no_eval, "skip evaluation");
}

void AddJobFlags(CLI::App& app, SubmitOptions& options) {
  SubmitFlags& flags = options.flags;
  app.add_option("MODEL", flags.model,
                 "model: path (.gguf file or HF directory), file:// URI or "
                 "sha256: blob")
      ->required();
  app.add_option("--method", flags.method,
                 contract::MethodNames() +
                     ", or a recipe: a transform then a rounding stage "
                     "joined by '+' (osplus+gptq)");
  // One value per occurrence, so a repeatable flag never swallows MODEL.
  app.add_option(
         "--param", flags.params,
         "method parameter key=value (JSON values), repeatable; "
         "stage.key=value for a recipe's stage (gptq.dampening_percent=0.05)")
      ->allow_extra_args(false);
  app.add_option("--max-ppl-increase", flags.max_ppl_increase,
                 "accuracy target: largest perplexity increase over FP, "
                 "relative (0.02 = +2%); tries --fallback after --method");
  app.add_option("--min-cosine", flags.min_cosine,
                 "accuracy target of an encoder: smallest cosine to FP");
  app.add_option("--fallback", flags.fallbacks,
                 "METHOD or METHOD@SCHEME tried in order when the job "
                 "misses its target, repeatable (parameters: the API)")
      ->allow_extra_args(false);
  app.add_option("--export", flags.exports,
                 "export format: " + contract::ExportFormatCliNames() +
                     "; repeatable (default hf and packed)")
      ->allow_extra_args(false);
  app.add_option("--label", flags.labels, "label k=v, repeatable")
      ->allow_extra_args(false);
  app.add_option("--priority", flags.priority, "-100..100, default 0");
  app.add_option("--device", flags.device, "cuda or cpu");
  app.add_option("--max-attempts", flags.max_attempts, "1..10, default 3");
  app.add_option("--request-id", flags.request_id,
                 "idempotency key (default: random)");
  app.add_option("--upload", options.upload,
                 "upload local inputs: auto (when the server cannot read "
                 "the path), always, never");
  app.add_flag("--wait", options.wait, "follow the job to its end");
  app.add_flag("--dry-run", options.dry_run,
               "validate and estimate only; nothing is stored");
  app.add_flag("-q,--quiet", options.quiet, "print only the job id");
}

void PrintSubmitted(CommandContext& context, const SubmitOptions& options,
                    const quantd::v1::Job& job) {
  std::ostream& out = context.io().out;
  if (context.output() != OutputFormat::kTable) {
    if (!options.wait) PrintJob(context, job);
  } else if (options.dry_run) {
    out << "Valid. Estimated peak device memory "
        << FormatBytes(job.estimate().device_memory_bytes()) << ", host memory "
        << FormatBytes(job.estimate().host_memory_bytes()) << "\n";
  } else if (options.quiet) {
    out << job.id() << "\n";
  } else {
    out << "Submitted " << job.id() << " (" << StateName(job.state())
        << ", request id " << job.request_id() << ")\n";
  }
  out << std::flush;
}

ExitCode RunSubmit(CommandContext& context, SubmitOptions options) {
  if (options.flags.request_id.empty()) {
    options.flags.request_id = IdGenerator().NewToken();
  }
  auto plan = BuildSubmitPlan(options.flags);
  if (!plan.ok()) return context.Fail(plan.status());
  auto mode = ParseUploadMode(options.upload);
  if (!mode.ok()) return context.Fail(mode.status());
  auto connection = context.Connect();
  if (!connection.ok()) return context.Fail(connection.status());
  absl::Status resolved =
      ResolveLocalInputs(context, **connection, *mode, &*plan);
  if (!resolved.ok()) return context.Fail(PointAtFlag(resolved));
  plan->request.set_validate_only(options.dry_run);
  auto job = CallSubmitJob(**connection, plan->request);
  if (!job.ok()) return context.Fail(PointAtFlag(job.status()));
  PrintSubmitted(context, options, *job);
  if (!options.wait || options.dry_run) return ExitCode::kSuccess;
  return WaitForJob(context, job->id());
}

}  // namespace

Command AddSubmitCommand(CLI::App& parent) {
  auto options = std::make_shared<SubmitOptions>();
  CLI::App* app = parent.add_subcommand("submit", "submit a quantization job");
  AddJobFlags(*app, *options);
  AddSchemeFlags(*app, options->flags.scheme);
  AddDataFlags(*app, options->flags);
  return {app, [options](CommandContext& context) {
            return RunSubmit(context, *options);
          }};
}

}  // namespace quantd::client
