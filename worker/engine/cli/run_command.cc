#include "worker/engine/cli/run_command.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <thread>

#include "worker/engine/cli/command_support.h"
#include "worker/engine/cli/version.h"
#include "worker/engine/export/export_error.h"
#include "worker/engine/io/format_error.h"
#include "worker/engine/methods/method_error.h"
#include "worker/engine/model/model_error.h"
#include "worker/engine/pipeline/checkpoint.h"
#include "worker/engine/pipeline/pipeline.h"
#include "worker/engine/quant/errors.h"
#include "worker/engine/tokenizer/tokenizer.h"

namespace quantd::engine::cli {
namespace {

constexpr int kExitStopped = 143;

struct RunOptions {
  std::string spec_path;
  std::string out_dir;
  int events_fd = 1;
  std::string device = "cpu";
  int threads = 0;
  std::string data_dir;
  bool keep_checkpoint = false;
  uint64_t max_shard_mib = 1024;
};

at::Device ParseDevice(const std::string& text) {
  std::optional<at::Device> device;
  try {
    device = at::Device(text);
  } catch (const c10::Error&) {
  }
  if (!device || (!device->is_cpu() && !device->is_cuda())) {
    throw pipeline::SpecError(
        "", "--device must be cpu or cuda[:i], got '" + text + "'");
  }
  if (device->is_cuda() && !at::hasCUDA()) {
    throw pipeline::SpecError(
        "", "--device " + text + ": this machine has no CUDA device");
  }
  return *device;
}

// QUANTD_ENGINE_STOP_AFTER_BLOCK, for the resume tests only.
int64_t StopAfterBlock() {
  const char* value = std::getenv("QUANTD_ENGINE_STOP_AFTER_BLOCK");
  return value == nullptr ? -1 : std::atoll(value);
}

int Run(const RunOptions& options, pipeline::EventSink& events) {
  const int threads =
      options.threads > 0
          ? options.threads
          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);
  pipeline::SpecDefaults defaults;
  if (!options.data_dir.empty()) {
    defaults.data_dir = options.data_dir;
  } else if (const char* env = std::getenv("QUANTD_DATA_DIR")) {
    defaults.data_dir = env;
  }
  pipeline::JobSpec spec = pipeline::ReadJobSpec(options.spec_path, defaults);
  pipeline::PipelineOptions pipeline_options;
  pipeline_options.device = ParseDevice(options.device);
  pipeline_options.out_dir = std::filesystem::absolute(options.out_dir);
  pipeline_options.stop_after_block = StopAfterBlock();
  pipeline_options.spec_path = std::filesystem::absolute(options.spec_path);
  pipeline_options.engine_version = kEngineVersion;
  pipeline_options.keep_checkpoint = options.keep_checkpoint;
  pipeline_options.max_shard_bytes = options.max_shard_mib << 20;
  pipeline::JobInputs inputs =
      pipeline::LoadJobInputs(spec, pipeline_options.device, events);
  pipeline::PipelineResult result =
      pipeline::RunPipeline(spec, inputs, pipeline_options, events);
  return result.stopped ? kExitStopped : 0;
}

int Fail(pipeline::EventSink& events, int status, const char* code,
         const std::string& message, const std::string& field = "") {
  events.Error(code, message, field);
  return status;
}

// Runs and converts every failure into one error event and an exit status.
int RunAndReport(const RunOptions& options) {
  pipeline::EventSink events(options.events_fd);
  try {
    return Run(options, events);
  } catch (const pipeline::SpecError& error) {
    return Fail(events, kExitInvalid, "INVALID_ARGUMENT", error.what(),
                error.field());
  } catch (const methods::ParamError& error) {
    return Fail(events, kExitInvalid, "INVALID_ARGUMENT", error.what(),
                error.field());
  } catch (const pipeline::CheckpointMismatch& error) {
    return Fail(events, kExitInvalid, "INVALID_ARGUMENT", error.what());
  } catch (const io::FormatError& error) {
    return Fail(events, kExitInvalid, "INVALID_ARGUMENT", error.what());
  } catch (const tokenizer::TokenizerError& error) {
    return Fail(events, kExitInvalid, "INVALID_ARGUMENT", error.what());
  } catch (const model::ModelError& error) {
    return Fail(events, kExitInvalid, "INVALID_ARGUMENT", error.what());
  } catch (const pipeline::TargetNotMet& error) {
    return Fail(events, kExitTargetNotMet, "FAILED_PRECONDITION", error.what(),
                "target");
  } catch (const exporting::ExportError& error) {
    return Fail(events, kExitRuntime, "INTERNAL", error.what());
  } catch (const c10::OutOfMemoryError& error) {
    return Fail(events, kExitOutOfMemory, "RESOURCE_EXHAUSTED",
                error.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    return Fail(events, kExitOutOfMemory, "RESOURCE_EXHAUSTED",
                "out of host memory");
  } catch (const c10::Error& error) {
    return Fail(events, kExitRuntime, "INTERNAL",
                error.what_without_backtrace());
  } catch (const std::exception& error) {
    return Fail(events, kExitRuntime, "INTERNAL", error.what());
  }
}

}  // namespace

void AddRunCommand(CLI::App& app, int* exit_code) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* run = app.add_subcommand("run", "run (or resume) one job");
  run->add_option("spec", options->spec_path, "JobSpec as JSON")->required();
  run->add_option("--out", options->out_dir, "work dir for artifacts")
      ->required();
  run->add_option("--events-fd", options->events_fd,
                  "file descriptor for JSON-lines events (default 1)");
  run->add_option("--device", options->device, "cpu or cuda[:i]");
  run->add_option("--threads", options->threads,
                  "intra-op threads (default: all cores); resume with the "
                  "same count for byte-identical results");
  run->add_option("--data-dir", options->data_dir,
                  "default datasets (wiki.valid.tokens, wiki.test.raw); "
                  "default $QUANTD_DATA_DIR");
  run->add_flag("--keep-checkpoint", options->keep_checkpoint,
                "keep DIR/checkpoint after success (removed by default)");
  run->add_option("--max-shard-mib", options->max_shard_mib,
                  "largest output safetensors shard, MiB (default 1024); "
                  "the export holds one shard in memory")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 20));
  run->callback([options, exit_code] { *exit_code = RunAndReport(*options); });
}

}  // namespace quantd::engine::cli
