#include "worker/engine/pipeline/pipeline.h"

#include <ATen/Parallel.h>
#include <c10/util/StringUtil.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <future>
#include <limits>
#include <map>
#include <optional>
#include <tuple>

#include "contract/accuracy_target.h"
#include "contract/export_format.h"
#include "worker/engine/eval/perplexity.h"
#include "worker/engine/eval/similarity.h"
#include "worker/engine/export/exporter.h"
#include "worker/engine/methods/block_session.h"
#include "worker/engine/methods/registry.h"
#include "worker/engine/model/model_factory.h"
#include "worker/engine/model/overlay_tensor_source.h"
#include "worker/engine/pipeline/calibration_data.h"
#include "worker/engine/pipeline/figure_json.h"

namespace quantd::engine::pipeline {
namespace {

// Nominal share of the job each stage ends at, for `fraction`.
constexpr double kLoadEnd = 0.05;
constexpr double kQuantizeEnd = 0.80;
constexpr double kEvaluateEnd = 0.97;

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

uint64_t PeakHostMemoryBytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<uint64_t>(usage.ru_maxrss) * 1024u;  // KiB on Linux.
}

std::vector<at::Tensor> Batches(const at::Tensor& stream, int64_t batch) {
  if (!stream.defined()) return {};
  return stream.split(batch, 0);
}

std::vector<std::pair<std::string, at::Tensor>> CpuTensors(
    const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  std::vector<std::pair<std::string, at::Tensor>> copies;
  for (const auto& [name, tensor] : tensors) {
    copies.emplace_back(name, tensor.to(at::kCPU).contiguous());
  }
  return copies;
}

// Temporary files of a killed run (AtomicFile's ".<name>.<pid>.tmp") in the
// work dir and the engine's own folders under it, and the exporter's old
// staging folder: nothing else would ever remove them.
void RemoveStaleTemporaries(const std::filesystem::path& out_dir) {
  std::error_code error;
  std::filesystem::remove_all(out_dir / ".staging", error);
  std::vector<std::string> subs = {"", "checkpoint", "plots"};
  for (const contract::ExportFormatInfo& format : contract::ExportFormats()) {
    subs.emplace_back(format.directory);
  }
  for (const std::string& sub : subs) {
    const std::filesystem::path dir = out_dir / sub;
    for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
      const std::string name = entry.path().filename().string();
      if (entry.is_regular_file(error) && name.size() > 5 && name[0] == '.' &&
          name.ends_with(".tmp")) {
        std::filesystem::remove(entry.path(), error);
      }
    }
  }
}

// A block's checkpoint files once written (on a background thread).
struct WrittenBlock {
  BlockSummary summary;
  exporting::WrittenFile block_file;
  exporting::WrittenFile streams_file;
};

class JobRun {
 public:
  JobRun(const JobSpec& spec, JobInputs& inputs, const PipelineOptions& options,
         EventSink& events)
      : spec_(spec),
        inputs_(inputs),
        model_(*inputs.model),
        options_(options),
        events_(events),
        contexts_(model_, inputs.calibration.size(1)),
        // Common to every stage (contract/recipe.h).
        batch_size_(spec.stages.front().params.Integer("batch_size")),
        identity_{SpecSha256(spec), inputs.model_sha256, model_.NumBlocks()},
        store_(options.out_dir, identity_, &model_.source()) {
    method_ = methods::MakeRecipeMethod(spec.stages);
    reads_calibration_ = method_->reads_calibration(spec.scheme);
  }

  // Quantizes every block and evaluates; `stopped` when stop_after_block
  // was reached (nothing more to do).
  PipelineResult QuantizeAndEvaluate() {
    PipelineResult result;
    Start();
    if (!QuantizeBlocks()) {
      result.stopped = true;
      result.blocks = blocks_;
      return result;
    }
    if (!spec_.evaluation.skip) {
      // Marks the start of the stage (its own progress comes per window).
      Progress("evaluate", 0, kQuantizeEnd, {});
    }
    BuildQuantizedModel();
    Evaluate(result.result);
    quantized_.reset();
    return result;
  }

  // Exports (when `export_artifacts`), fills the run's time and memory and
  // removes the checkpoint. The result event is the caller's.
  void Finish(PipelineResult& result, bool export_artifacts) {
    if (export_artifacts) result.artifacts = Export(result.result);
    // After the export, so that the figures cover the whole run.
    result.result.wall_seconds = SecondsSince(start_);
    result.result.peak_host_memory_bytes = PeakHostMemoryBytes();
    if (!options_.keep_checkpoint) store_.Remove();
    result.blocks = blocks_;
  }

 private:
  void Start() {
    RemoveStaleTemporaries(options_.out_dir);
    std::optional<Checkpoint> checkpoint = store_.Read(options_.device);
    if (checkpoint) {
      blocks_ = std::move(checkpoint->blocks);
      stream_q_ = checkpoint->stream_quantized;
      stream_fp_ = checkpoint->stream_fp;
      events_.Log("info", c10::str("resuming after block ", blocks_.size() - 1,
                                   " of ", model_.NumBlocks()));
      return;
    }
    if (reads_calibration_) {
      const at::Tensor& ids = inputs_.calibration;
      stream_q_ = model_.Embed(ids, model_.MakeContext(ids));
      if (method_->needs_fp_stream()) stream_fp_ = stream_q_.clone();
    } else {
      events_.Log("info",
                  "the method reads no calibration data: no calibration "
                  "forward, no activation ranges in the report");
    }
    Progress("calibrate", 0, kLoadEnd, {});
  }

  // Each finished block goes to its checkpoint file (then the streams
  // file that commits it) on a background thread while the next block is
  // computed; only its summary stays in memory.
  bool QuantizeBlocks() {
    const int64_t count = model_.NumBlocks();
    const int64_t first = static_cast<int64_t>(blocks_.size());
    const Clock::time_point began = Clock::now();
    for (int64_t index = first; index < count; ++index) {
      FinishedBlock block = QuantizeBlock(index);
      const double done = static_cast<double>(index + 1 - first);
      const double eta = SecondsSince(began) / done *
                         (static_cast<double>(count - index - 1) +
                          (1.0 - kQuantizeEnd) / (kQuantizeEnd - kLoadEnd) *
                              static_cast<double>(count));
      Progress("quantize", index,
               kLoadEnd + (kQuantizeEnd - kLoadEnd) * (index + 1) / count,
               block.figures, eta);
      FinishWrite();
      // Only what the file stores outlives this iteration.
      StartWrite(store_.PrepareBlock(block));
      if (!options_.overlap_writes || index == options_.stop_after_block) {
        FinishWrite();
      }
      if (index == options_.stop_after_block) return false;
    }
    FinishWrite();
    return true;
  }

  void StartWrite(BlockFileContents contents) {
    std::vector<BlockSummary> committed = blocks_;
    pending_write_ = std::async(
        std::launch::async,
        [this, contents = std::move(contents), committed = std::move(committed),
         stream_q = stream_q_, stream_fp = stream_fp_]() mutable {
          WrittenBlock written;
          written.block_file = store_.WriteBlock(contents);
          written.summary = std::move(contents.summary);
          committed.push_back(written.summary);
          written.streams_file =
              store_.WriteStreams(committed, stream_q, stream_fp);
          return written;
        });
  }

  // Waits for the block being written, then announces its two files.
  void FinishWrite() {
    if (!pending_write_.valid()) return;
    WrittenBlock written = pending_write_.get();
    const int64_t index = written.summary.file.index;
    events_.Checkpoint(index, "block", written.summary.file.name,
                       written.block_file);
    events_.Checkpoint(index, "streams", CheckpointStore::StreamsName(),
                       written.streams_file);
    blocks_.push_back(std::move(written.summary));
  }

  // The norm that produced a Post-LN block's input: the previous block's
  // last norm, as loaded (such norms are never folded into). Kept from the
  // previous block; loaded again only on resume.
  std::optional<model::Norm> InputNorm(int64_t index,
                                       const model::Block& block) const {
    const model::InputSite& site = block.Sites().front();
    if (index == 0 || !site.norm.empty() || !site.feeds_residual) {
      return std::nullopt;
    }
    if (last_norm_ && last_norm_->first == index - 1) return last_norm_->second;
    std::unique_ptr<model::Block> previous = model_.LoadBlock(index - 1);
    return previous->norm(previous->NormNames().back());
  }

  FinishedBlock QuantizeBlock(int64_t index) {
    const Clock::time_point began = Clock::now();
    std::unique_ptr<model::Block> block = model_.LoadBlock(index);
    methods::BlockInputs inputs;
    inputs.quantized = Batches(stream_q_, batch_size_);
    inputs.fp = Batches(stream_fp_, batch_size_);
    std::optional<model::Norm> input_norm = InputNorm(index, *block);
    methods::MethodContext context{&model_, &spec_.scheme, &contexts_,
                                   input_norm ? &*input_norm : nullptr};
    context.progress = [this, index](double done,
                                     const methods::LayerFigure& figure) {
      Progress("quantize", index,
               kLoadEnd + (kQuantizeEnd - kLoadEnd) * (index + done) /
                              model_.NumBlocks(),
               {figure});
    };
    const bool ranges_wanted =
        options_.export_artifacts && !inputs.quantized.empty();
    std::vector<exporting::ChannelRange> ranges =
        ranges_wanted
            ? RangesBefore(*block, inputs.quantized[0].narrow(0, 0, 1))
            : std::vector<exporting::ChannelRange>();
    // The unmodified block's FP outputs, before the method changes it,
    // written batch by batch into one tensor (no concatenated copy).
    if (stream_fp_.defined()) {
      inputs.fp_outputs = at::empty_like(stream_fp_);
      int64_t offset = 0;
      for (const at::Tensor& x : inputs.fp) {
        inputs.fp_outputs.narrow(0, offset, x.size(0))
            .copy_(block->Forward(x, contexts_.For(x.size(0))));
        offset += x.size(0);
      }
    }
    if (!block->NormNames().empty()) {
      last_norm_.emplace(index, block->norm(block->NormNames().back()));
    }
    methods::BlockOutcome outcome =
        method_->QuantizeBlock(*block, inputs, context);
    if (!inputs.quantized.empty()) {
      std::vector<at::Tensor> outputs;
      outputs.reserve(inputs.quantized.size());
      for (size_t i = 0; i < inputs.quantized.size(); ++i) {
        const at::Tensor& x = inputs.quantized[i];
        outputs.push_back(i == 0 && ranges_wanted
                              ? RangesAfter(*block, outcome.state, x, ranges)
                              : block->Forward(x, contexts_.For(x.size(0))));
      }
      stream_q_ = at::cat(outputs);
    }
    if (stream_fp_.defined()) stream_fp_ = inputs.fp_outputs;
    FinishedBlock finished;
    finished.index = index;
    finished.prefix = block->prefix();
    finished.tensors = CpuTensors(block->NamedTensors());
    finished.state = std::move(outcome.state);
    finished.figures = std::move(outcome.figures);
    finished.ranges = std::move(ranges);
    finished.seconds = SecondsSince(began);
    return finished;
  }

  // The report's per-channel activation ranges are taken over the first
  // calibration sequence: a diagnostic, which must not cost a forward of
  // the statistics batch (that would be one more FP forward per block at
  // small calibration sizes).
  //
  // Before the method: the raw activations of `sequence` at every input
  // site, the block unmodified.
  std::vector<exporting::ChannelRange> RangesBefore(
      model::Block& block, const at::Tensor& sequence) {
    const std::vector<model::InputSite>& sites = block.Sites();
    std::vector<exporting::ChannelRange> ranges(sites.size());
    block.ClearHooks();
    for (size_t i = 0; i < sites.size(); ++i) {
      exporting::ChannelRange& range = ranges[i];
      range.name = block.prefix() + sites[i].name;
      block.SetHook(sites[i].point, [&range](const at::Tensor& x) {
        std::tie(range.before_min, range.before_max) =
            exporting::PerChannelMinMax(x);
        return x;
      });
    }
    block.Forward(sequence, contexts_.For(1));
    block.ClearHooks();
    return ranges;
  }

  // After it: what each site's quantizer sees (its unfolded transform
  // applied) for the batch's first sequence, recorded during the quantized
  // block's forward of `batch` (every quantizer installed), whose output is
  // returned: the batch's next stream, so these ranges cost no forward.
  at::Tensor RangesAfter(model::Block& block,
                         const methods::BlockQuantState& state,
                         const at::Tensor& batch,
                         std::vector<exporting::ChannelRange>& ranges) {
    methods::InstallActivationQuantizers(block, state);
    const std::vector<model::InputSite>& sites = block.Sites();
    for (size_t i = 0; i < sites.size(); ++i) {
      const methods::ActivationState* activation = nullptr;
      for (const methods::ActivationState& candidate : state.activations) {
        if (candidate.point == sites[i].point) activation = &candidate;
      }
      exporting::ChannelRange& range = ranges[i];
      block.SetHook(sites[i].point, [&range, activation](const at::Tensor& x) {
        if (activation == nullptr) {
          std::tie(range.after_min, range.after_max) =
              exporting::PerChannelMinMax(x.narrow(0, 0, 1));
          return x;
        }
        std::tie(range.after_min, range.after_max) =
            exporting::PerChannelMinMax(
                activation->transform.Apply(x.narrow(0, 0, 1)));
        return methods::ApplyActivationState(*activation, x);
      });
    }
    at::Tensor output = block.Forward(batch, contexts_.For(batch.size(0)));
    methods::InstallActivationQuantizers(block, state);
    return output;
  }

  // The quantized model: the FP model's resident tensors, shared, under
  // the finished blocks' checkpoint files, read block by block.
  void BuildQuantizedModel() {
    if (spec_.evaluation.skip) return;
    auto source = std::make_shared<model::OverlayTensorSource>(
        "quantized " + spec_.model_path.filename().string());
    source->AddShared(model_.NamedTensors());
    for (const BlockSummary& block : blocks_) {
      source->AddSource(store_.OpenBlock(block.file));
    }
    quantized_ = model::MakeModel(inputs_.config, source, model_.options());
    for (const BlockSummary& block : blocks_) {
      activation_states_.push_back(store_
                                       .ReadBlock(block.file,
                                                  BlockContents::kActivations,
                                                  options_.device)
                                       .state);
    }
  }

  void Evaluate(ResultEvent& result) {
    if (spec_.evaluation.skip) return;
    auto prepare = [this](model::Block& block) {
      methods::InstallActivationQuantizers(
          block, activation_states_.at(static_cast<size_t>(block.index())));
    };
    if (model_.output_kind() == model::OutputKind::kLogits) {
      EvaluatePerplexity(result, prepare);
    } else {
      EvaluateCosine(result, prepare);
    }
  }

  // Progress over [base, base + span) of the nominal job.
  eval::PerplexityProgress EvalProgress(double base, double span) {
    return [this, base, span](int64_t done, int64_t total) {
      Progress("evaluate", 0, base + span * done / total, {});
    };
  }

  void EvaluatePerplexity(ResultEvent& result,
                          const model::Model::BlockPreparer& prepare) {
    eval::PerplexityOptions options;
    options.seq_len = spec_.evaluation.seq_len;
    options.max_tokens = spec_.evaluation.max_tokens;
    options.batch_size = options_.eval_windows_per_chunk;
    const double span = (kEvaluateEnd - kQuantizeEnd) / 2.0;
    result.metric = "perplexity";
    result.fp_value = std::numeric_limits<double>::quiet_NaN();
    if (options_.evaluate_fp) {
      result.fp_value =
          eval::EvaluatePerplexity(model_, inputs_.evaluation, options, {},
                                   EvalProgress(kQuantizeEnd, span))
              .ppl;
    }
    eval::PerplexityResult quantized = eval::EvaluatePerplexity(
        *quantized_, inputs_.evaluation, options, prepare,
        EvalProgress(kQuantizeEnd + span, span));
    result.quantized_value = quantized.ppl;
    result.eval_tokens = quantized.tokens;
    result.eval_seq_len = quantized.seq_len;
  }

  // Encoders: the cosine between FP and quantized embeddings of
  // consecutive windows of the evaluation text.
  void EvaluateCosine(ResultEvent& result,
                      const model::Model::BlockPreparer& prepare) {
    at::Tensor windows =
        ConsecutiveWindows(inputs_.evaluation, spec_.evaluation.seq_len,
                           spec_.evaluation.max_tokens, "evaluation.dataset");
    std::vector<std::vector<int32_t>> ids;
    for (int64_t w = 0; w < windows.size(0); ++w) {
      at::Tensor row = windows[w].to(at::kInt).contiguous();
      ids.emplace_back(row.data_ptr<int32_t>(),
                       row.data_ptr<int32_t>() + row.numel());
    }
    eval::EmbeddingOptions options;
    options.batch_size = options_.eval_windows_per_chunk;
    options.max_tokens = windows.size(1);
    at::Tensor reference = eval::EmbedTokenIds(model_, ids, 0, options);
    at::Tensor candidate =
        eval::EmbedTokenIds(*quantized_, ids, 0, options, prepare);
    result.metric = "cosine";
    result.fp_value = 1.0;
    result.quantized_value =
        eval::CompareEmbeddings(reference, candidate).mean_cosine;
    result.eval_tokens = windows.numel();
    result.eval_seq_len = windows.size(1);
  }

  exporting::BlockExport BlockForExport(const FinishedBlock& block) const {
    exporting::BlockExport out;
    out.index = block.index;
    out.tensors = block.tensors;
    std::map<std::string, at::Tensor> fp_weights;
    for (const methods::WeightState& weight : block.state.weights) {
      if (weight.fp_weight.defined()) {
        fp_weights[block.prefix + weight.linear + ".weight"] = weight.fp_weight;
      }
      if (!weight.config.enabled) continue;
      out.linears.push_back(exporting::QuantizedLinear{
          block.prefix + weight.linear, weight.config, weight.qparams});
    }
    if (!fp_weights.empty()) {
      for (const auto& [name, tensor] : block.tensors) {
        auto found = fp_weights.find(name);
        out.fp_tensors.emplace_back(
            name, found == fp_weights.end() ? tensor : found->second);
      }
    }
    for (const methods::ActivationState& activation : block.state.activations) {
      exporting::ActivationQuant quant;
      quant.name =
          block.prefix + std::string(model::HookPointName(activation.point));
      quant.config = activation.config;
      quant.qparams = activation.qparams;
      quant.input_shift = activation.transform.shift;
      quant.input_scale = activation.transform.scale;
      out.activations.push_back(std::move(quant));
    }
    out.ranges = block.ranges;
    out.figures = FiguresToJson(block.figures);
    out.seconds = block.seconds;
    return out;
  }

  std::vector<exporting::Artifact> Export(const ResultEvent& result) {
    Progress("export", 0, kEvaluateEnd, {});
    exporting::ExportOptions options;
    options.out_dir = options_.out_dir;
    auto wants = [this](const char* format) {
      return std::find(spec_.export_formats.begin(), spec_.export_formats.end(),
                       format) != spec_.export_formats.end();
    };
    options.hf_model = wants("HF_SAFETENSORS");
    options.packed = wants("PACKED_INT");
    options.compressed_tensors = wants("COMPRESSED_TENSORS");
    options.gguf = wants("GGUF");
    options.weights = quant::ToContract(spec_.scheme.weight);
    options.activations = quant::ToContract(spec_.scheme.activation);
    options.max_shard_bytes = options_.max_shard_bytes;
    exporting::Exporter exporter(options);

    exporting::JobInfo job;
    job.config = inputs_.config;
    job.model_source = spec_.model_path;
    job.spec = CanonicalSpec(spec_);
    job.spec_sha256 = identity_.spec_sha256;
    job.method = spec_.method;
    job.scheme = spec_.scheme.name;
    job.seed = spec_.calibration.seed;
    job.device = options_.device.str();
    job.engine_version = options_.engine_version;
    job.inputs.push_back({"model", spec_.model_path, ""});
    if (!spec_.calibration.dataset.empty()) {
      job.inputs.push_back({"calibration", spec_.calibration.dataset,
                            spec_.calibration.dataset_sha256});
    }
    if (!spec_.evaluation.skip && !spec_.evaluation.dataset.empty()) {
      job.inputs.push_back({"evaluation", spec_.evaluation.dataset,
                            spec_.evaluation.dataset_sha256});
    }
    if (!options_.spec_path.empty()) {
      job.inputs.push_back({"spec", options_.spec_path, ""});
    }
    exporter.Begin(std::move(job));
    // One block in memory at a time, read back from its checkpoint file;
    // its FP weights only when the HF model is exported.
    const BlockContents contents = options.hf_model ? BlockContents::kEverything
                                                    : BlockContents::kQuantized;
    for (const BlockSummary& block : blocks_) {
      exporter.AddBlock(
          BlockForExport(store_.ReadBlock(block.file, contents, at::kCPU)));
    }
    exporter.AddResident(CpuTensors(model_.NamedTensors()));

    exporting::RunSummary summary;
    summary.metric = result.metric;
    summary.fp_value = result.fp_value;
    summary.quantized_value = result.quantized_value;
    summary.eval_tokens = result.eval_tokens;
    summary.eval_seq_len = result.eval_seq_len;
    summary.peak_device_memory_bytes = result.peak_device_memory_bytes;
    // Measured as the report is written, after the model files.
    summary.measure = [this](exporting::RunSummary& measured) {
      measured.wall_seconds = SecondsSince(start_);
      measured.peak_host_memory_bytes = PeakHostMemoryBytes();
    };
    summary.model = {
        {"path", spec_.model_path.string()},
        {"sha256", inputs_.model_sha256},
        {"architecture", io::ArchitectureName(inputs_.config.architecture)},
        {"blocks", model_.NumBlocks()}};
    summary.extra = {{"threads", at::get_num_threads()}};
    if (!result.attempts.empty()) {
      summary.extra["attempts"] = AttemptsJson(result.attempts);
    }
    std::vector<exporting::Artifact> artifacts = exporter.Finish(summary);
    for (const exporting::Artifact& artifact : artifacts) {
      events_.Artifact(artifact.name, artifact.kind, artifact.file);
    }
    return artifacts;
  }

  void Progress(const char* stage, int64_t block, double fraction,
                std::vector<methods::LayerFigure> layers,
                double eta_seconds = -1.0) {
    ProgressEvent event;
    event.stage = stage;
    event.block_index = block;
    event.block_count = model_.NumBlocks();
    event.fraction = options_.progress_base + options_.progress_span * fraction;
    event.eta_seconds = eta_seconds;
    event.layers = std::move(layers);
    events_.Progress(event);
  }

  const JobSpec& spec_;
  JobInputs& inputs_;
  const model::Model& model_;
  const PipelineOptions& options_;
  EventSink& events_;
  methods::ContextCache contexts_;
  int64_t batch_size_;
  std::unique_ptr<methods::Method> method_;
  CheckpointIdentity identity_;
  CheckpointStore store_;
  Clock::time_point start_ = Clock::now();
  std::vector<BlockSummary> blocks_;  // Committed to the checkpoint.
  std::future<WrittenBlock> pending_write_;
  // Undefined when the method reads no calibration data.
  at::Tensor stream_q_, stream_fp_;
  bool reads_calibration_ = true;
  // The last norm of the block quantized last, by block index (InputNorm).
  std::optional<std::pair<int64_t, model::Norm>> last_norm_;
  std::unique_ptr<model::Model> quantized_;
  // Per block, the activation quantizers of the quantized model.
  std::vector<methods::BlockQuantState> activation_states_;
};

// A job with a target: each attempt in turn, FP evaluated by the first
// only; the first within the bound is exported and ends the job.
PipelineResult RunTarget(const JobSpec& spec, JobInputs& inputs,
                         const PipelineOptions& options, EventSink& events) {
  const std::vector<JobSpec> attempts = AttemptSpecs(spec);
  const contract::TargetBound bound{spec.target->max_perplexity_increase,
                                    spec.target->min_cosine};
  const Clock::time_point start = Clock::now();
  std::vector<AttemptEvent> done;
  double fp_value = std::numeric_limits<double>::quiet_NaN();
  for (size_t i = 0; i < attempts.size(); ++i) {
    const JobSpec& attempt = attempts[i];
    const Clock::time_point attempt_start = Clock::now();
    events.Log("info",
               c10::str("attempt ", i + 1, " of ", attempts.size(), ": ",
                        attempt.method, " ", attempt.scheme.name));
    PipelineOptions attempt_options = options;
    attempt_options.evaluate_fp = i == 0;
    // Progress never goes back: attempt i covers [i, i + 1) / attempts.
    attempt_options.progress_base = static_cast<double>(i) / attempts.size();
    attempt_options.progress_span = 1.0 / attempts.size();
    JobRun run(attempt, inputs, attempt_options, events);
    PipelineResult result = run.QuantizeAndEvaluate();
    if (result.stopped) return result;
    if (i == 0) fp_value = result.result.fp_value;
    result.result.fp_value = fp_value;
    const bool met =
        contract::MeetsTarget(bound, fp_value, result.result.quantized_value);
    // Until its evaluation for the report; with its export once finished.
    done.push_back({attempt.method, attempt.scheme.name,
                    result.result.quantized_value, SecondsSince(attempt_start),
                    met});
    result.result.attempts = done;
    run.Finish(result, met && options.export_artifacts);
    done.back().wall_seconds = result.result.wall_seconds;
    events.Log("info",
               c10::str("attempt ", i + 1, ": ", result.result.metric, " ",
                        result.result.quantized_value, " (FP ", fp_value, ")",
                        met ? " meets" : " misses", " the target"));
    if (met || i + 1 == attempts.size()) {
      result.result.attempts = done;
      result.result.wall_seconds = SecondsSince(start);
      events.Result(result.result);
      if (!met) throw TargetNotMet(done);
      return result;
    }
  }
  throw std::logic_error("a job always has one attempt");
}

}  // namespace

TargetNotMet::TargetNotMet(const std::vector<AttemptEvent>& attempts)
    : std::runtime_error([&attempts] {
        std::string message = "no attempt met the target:";
        for (const AttemptEvent& attempt : attempts) {
          message += c10::str(" ", attempt.method, " ", attempt.scheme, " ",
                              attempt.quantized_value, ";");
        }
        message.pop_back();
        return message;
      }()) {}

PipelineResult RunPipeline(const JobSpec& spec, JobInputs& inputs,
                           const PipelineOptions& options, EventSink& events) {
  if (spec.target) return RunTarget(spec, inputs, options, events);
  JobRun run(spec, inputs, options, events);
  PipelineResult result = run.QuantizeAndEvaluate();
  if (result.stopped) return result;
  run.Finish(result, options.export_artifacts);
  events.Result(result.result);
  return result;
}

}  // namespace quantd::engine::pipeline
