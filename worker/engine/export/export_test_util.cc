#include "worker/engine/export/export_test_util.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "worker/engine/model/model_factory.h"
#include "worker/engine/model/test_models.h"
#include "worker/engine/quant/fake_quant.h"
#include "worker/engine/quant/granularity.h"

namespace quantd::engine::exporting::testing {

std::filesystem::path SourceDir() {
  const char* dir = std::getenv("QUANTD_SOURCE_DIR");
  return dir != nullptr ? std::filesystem::path(dir)
                        : std::filesystem::current_path();
}

std::filesystem::path ScratchDir(const std::string& name) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("quantd-export-" + name + "-" + std::to_string(::getpid()));
  RemoveScratch(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void RemoveScratch(const std::filesystem::path& dir) {
  int status = std::system(("rm -rf '" + dir.string() + "'").c_str());
  (void)status;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

FakeQuantized FakeQuantizeWeight(const at::Tensor& weight,
                                 const quant::QuantConfig& config) {
  const quant::MinMaxRange range =
      quant::RowMinMax(weight, config.granularity, config.group_size);
  FakeQuantized result;
  result.qparams = quant::ComputeQParams(range, config);
  result.weight = quant::FakeQuantize(weight, result.qparams,
                                      config.granularity, config.group_size);
  return result;
}

quant::QuantConfig TinyWeightConfig(const std::string& linear) {
  quant::QuantConfig config;
  config.granularity = quant::Granularity::kPerChannel;
  if (linear == "self_attn.q_proj") {  // 4-bit asymmetric, groups of 16.
    config.bits = 4;
    config.granularity = quant::Granularity::kPerGroup;
    config.group_size = 16;
  } else if (linear == "self_attn.k_proj") {  // int8, narrow grid.
    config.symmetric = true;
  } else if (linear == "self_attn.v_proj") {  // 3-bit, OS full grid [-4, 3].
    config.bits = 3;
    config.symmetric = true;
    config.grid = quant::Grid::kOsFull;
  } else if (linear == "self_attn.o_proj") {  // OmniQuant: zp off the grid.
    config.bits = 4;
    config.include_zero = false;
  } else if (linear == "mlp.gate_proj") {  // 6-bit per-tensor.
    config.bits = 6;
    config.granularity = quant::Granularity::kPerTensor;
  } else if (linear == "mlp.up_proj") {  // int4 narrow grid [-7, 7].
    config.bits = 4;
    config.symmetric = true;
  } else {  // 2-bit, groups of 16.
    config.bits = 2;
    config.granularity = quant::Granularity::kPerGroup;
    config.group_size = 16;
  }
  quant::ValidateQuantConfig(config);
  return config;
}

TinyModel MakeTinyLlama() {
  TinyModel tiny;
  const io::ModelConfig config = model::testing::TinyLlamaConfig();
  tiny.source = model::testing::RandomWeights(config, 7);
  tiny.model = model::MakeModel(config, tiny.source, {});
  return tiny;
}

namespace {

std::vector<ActivationQuant> TinyActivations(const std::string& prefix,
                                             int64_t channels) {
  quant::QuantConfig static_config;
  static_config.granularity = quant::Granularity::kPerTensor;
  ActivationQuant attn_in{prefix + "attn_in", static_config, std::nullopt,
                          at::linspace(-0.1, 0.1, channels),
                          at::linspace(0.5, 2.0, channels)};
  attn_in.qparams = quant::ComputeQParams(
      {at::scalar_tensor(-2.0, at::kFloat), at::scalar_tensor(3.0, at::kFloat)},
      static_config);
  quant::QuantConfig dynamic_config;
  dynamic_config.granularity = quant::Granularity::kPerToken;
  dynamic_config.dynamic = true;
  ActivationQuant mlp_in{
      prefix + "mlp_in", dynamic_config, std::nullopt, {}, {}};
  return {attn_in, mlp_in};
}

// Channel ranges with one planted outlier channel whose size grows with
// the block index, so the worst site is the last block's attn_in.
std::vector<ChannelRange> TinyRanges(const std::string& prefix, int64_t index,
                                     int64_t channels) {
  at::Tensor max = at::linspace(0.5, 1.5, channels);
  at::Tensor min = -max;
  at::Tensor outlier_max = max.clone();
  outlier_max[3] = 20.0 * static_cast<double>(index + 1);
  return {{prefix + "attn_in", min, outlier_max, min * 0.9, max * 1.1},
          {prefix + "mlp_in", min, max, {}, {}}};
}

}  // namespace

BlockExport QuantizeTinyBlock(const model::Model& model, int64_t index,
                              bool with_fp) {
  std::unique_ptr<model::Block> block = model.LoadBlock(index);
  BlockExport out;
  out.index = index;
  if (with_fp) out.fp_tensors = block->NamedTensors();
  for (const std::string& name : block->LinearNames()) {
    const quant::QuantConfig config = TinyWeightConfig(name);
    FakeQuantized quantized =
        FakeQuantizeWeight(block->linear(name).weight, config);
    block->linear(name).weight = quantized.weight;
    out.linears.push_back({block->prefix() + name, config, quantized.qparams});
  }
  out.tensors = block->NamedTensors();
  const int64_t channels = model.config().hidden_size;
  out.activations = TinyActivations(block->prefix(), channels);
  out.ranges = TinyRanges(block->prefix(), index, channels);
  out.figures = nlohmann::json::array(
      {{{"name", "blocks." + std::to_string(index) + ".attn_in"},
        {"loss_before", 0.5},
        {"loss_after", 0.25},
        {"threshold", nullptr},
        {"scale_min", 0.5},
        {"scale_max", 2.0},
        {"scale_mean", 1.0}}});
  out.seconds = 0.125 * static_cast<double>(index + 1);
  return out;
}

std::unique_ptr<model::Model> QuantizedTinyModel(const model::Model& model) {
  auto source = std::make_shared<model::MemoryTensorSource>("quantized");
  source->AddAll(model.NamedTensors());
  for (int64_t i = 0; i < model.NumBlocks(); ++i) {
    source->AddAll(QuantizeTinyBlock(model, i).tensors);
  }
  return model::MakeModel(model.config(), source, {});
}

JobInfo TinyJob(const model::Model& model) {
  JobInfo job;
  job.config = model.config();
  job.model_source = "tiny-llama.gguf";
  job.spec = {{"method", "test"}, {"scheme", "mixed"}};
  job.spec_sha256 = std::string(64, '0');
  job.method = "test";
  job.scheme = "mixed";
  job.seed = 42;
  job.device = "cpu";
  job.engine_version = "0.1.0-test";
  return job;
}

}  // namespace quantd::engine::exporting::testing
