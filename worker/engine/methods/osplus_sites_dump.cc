// quantd_engine_osplus_sites_dump: writes the OS+ threshold searches of real
// SmolLM2 sites for tests/reference/osplus, which recomputes each L(t)
// curve with an independent Python reference and compares.
//
// For each requested block, fed the FP hidden states of calibration windows
// drawn as a job draws them (wiki.valid.tokens, DrawWindows with the seed):
//   * the OS+ method itself (registry, QuantizeBlock) with the setting's
//     method_params and the up→down pair, dumping through
//     QUANTD_OSPLUS_DUMP_DIR: attn_in (q/k/v with the attention context),
//     mlp_in (gate/up, act(gate) ⊙ up) and mlp_out_in (down_proj input after
//     the block's earlier sites were scaled and quantized: the pair);
//   * the sites the method does not scale, searched directly on the FP
//     block: attn_out_in (o_proj) and mlp_out_in_fp (down_proj input of the
//     untouched FP block: the site without the pair's preceding steps).
//
// Usage: quantd_engine_osplus_sites_dump --out DIR [--blocks 1,11,28]
//   [--windows 2] [--seq-len 128] [--seed 7] [--scheme w6a6]
//   [--setting NAME:JSON]...   (default: official:{"search_tokens":0})
// Every setting gets DIR/NAME/blocks.<i>.<site>/. Needs QUANTD_SOURCE_DIR
// (or the repository as working directory) with the bootstrapped model.
#include <ATen/ATen.h>

#include <cstdint>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "worker/engine/io/model_loader.h"
#include "worker/engine/methods/method.h"
#include "worker/engine/methods/osplus_search.h"
#include "worker/engine/methods/registry.h"
#include "worker/engine/model/model_factory.h"
#include "worker/engine/pipeline/calibration_data.h"
#include "worker/engine/quant/scheme.h"
#include "worker/engine/tokenizer/tokenizer.h"

namespace quantd::engine::methods {
namespace {

struct Options {
  std::filesystem::path out;
  std::filesystem::path source = ".";
  std::filesystem::path data;
  std::set<int64_t> blocks = {1, 11, 28};
  int64_t windows = 2;
  int64_t seq_len = 128;
  uint64_t seed = 7;
  std::string scheme = "w6a6";
  std::vector<std::pair<std::string, nlohmann::json>> settings;
};

Options ParseOptions(int argc, char** argv) {
  Options options;
  if (const char* root = std::getenv("QUANTD_SOURCE_DIR")) {
    options.source = root;
  }
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    const std::string value = argv[i + 1];
    if (key == "--out") {
      options.out = value;
    } else if (key == "--data-dir") {
      options.data = value;
    } else if (key == "--blocks") {
      options.blocks.clear();
      std::stringstream list(value);
      for (std::string item; std::getline(list, item, ',');) {
        options.blocks.insert(std::stoll(item));
      }
    } else if (key == "--windows") {
      options.windows = std::stoll(value);
    } else if (key == "--seq-len") {
      options.seq_len = std::stoll(value);
    } else if (key == "--seed") {
      options.seed = std::stoull(value);
    } else if (key == "--scheme") {
      options.scheme = value;
    } else if (key == "--setting") {
      const size_t colon = value.find(':');
      if (colon == std::string::npos)
        throw std::runtime_error(key + " " + value);
      options.settings.emplace_back(
          value.substr(0, colon),
          nlohmann::json::parse(value.substr(colon + 1)));
    } else {
      throw std::runtime_error("unknown option " + key);
    }
  }
  if (options.out.empty()) throw std::runtime_error("--out DIR is required");
  if (options.data.empty()) {
    options.data = options.source / ".." / "shared" / "data" / "wikitext-2";
  }
  if (options.settings.empty()) {
    options.settings.emplace_back("official",
                                  nlohmann::json{{"search_tokens", 0}});
  }
  return options;
}

// The activations reaching `points` in an FP forward of `block`.
std::map<model::HookPoint, at::Tensor> CaptureFp(
    model::Block& block, const at::Tensor& hidden,
    const model::ForwardContext& context,
    const std::vector<model::HookPoint>& points) {
  std::map<model::HookPoint, at::Tensor> captured;
  for (model::HookPoint point : points) {
    block.SetHook(point, [&captured, point](const at::Tensor& x) {
      captured[point] = x;
      return x;
    });
  }
  block.Forward(hidden, context);
  block.ClearHooks();
  return captured;
}

void DumpBlock(const Options& options, const model::Model& model,
               const quant::QuantScheme& scheme, int64_t index,
               const at::Tensor& hidden, ContextCache& contexts) {
  const model::ForwardContext& context = contexts.For(hidden.size(0));
  const io::ModelConfig& config = model.config();
  for (const auto& [name, setting] : options.settings) {
    const std::filesystem::path dir = options.out / name;
    nlohmann::json params = setting;
    params["up_down"] = true;
    params["batch_size"] = hidden.size(0);
    // The method's own sites, dumped by the method.
    ::setenv("QUANTD_OSPLUS_DUMP_DIR", dir.c_str(), 1);
    const MethodInfo* info = FindMethod("osplus");
    std::unique_ptr<Method> method =
        info->make(ParseMethodParams("osplus", params, scheme));
    ::unsetenv("QUANTD_OSPLUS_DUMP_DIR");
    std::unique_ptr<model::Block> block = model.LoadBlock(index);
    BlockInputs inputs;
    inputs.quantized = {hidden};
    MethodContext method_context;
    method_context.model = &model;
    method_context.scheme = &scheme;
    method_context.contexts = &contexts;
    method->QuantizeBlock(*block, inputs, method_context);

    // The sites the method leaves alone, searched on the FP block.
    std::unique_ptr<model::Block> fp = model.LoadBlock(index);
    std::map<model::HookPoint, at::Tensor> captured =
        CaptureFp(*fp, hidden, context,
                  {model::HookPoint::kAttnOutIn, model::HookPoint::kMlpOutIn});
    const MethodParams parsed = ParseMethodParams("osplus", params, scheme);
    for (const auto& [point, suffix] :
         {std::pair{model::HookPoint::kAttnOutIn, "attn_out_in"},
          std::pair{model::HookPoint::kMlpOutIn, "mlp_out_in_fp"}}) {
      const model::InputSite& site = fp->Site(model::HookPointName(point));
      ThresholdSearchInput input;
      input.block = fp.get();
      input.site = &site;
      input.activation = captured.at(point);
      input.consumers = fp->Consumers(site.name);
      input.weight = scheme.weight;
      input.activation_quant = scheme.activation;
      input.lower_bound = parsed.Has("lower_bound")
                              ? parsed.Number("lower_bound")
                              : 0.1;  // Unshifted, as the method's default.
      input.search_tokens = parsed.Integer("search_tokens");
      input.candidates_per_batch = parsed.Integer("search_batch");
      input.max_candidates = parsed.Integer("max_candidates");
      input.coarse_to_fine = parsed.Integer("coarse_to_fine");
      input.contexts = &contexts;
      ThresholdSearch search(std::move(input));
      ThresholdChoice choice = search.Run();
      search.Dump(choice,
                  dir / ("blocks." + std::to_string(index) + "." + suffix),
                  {{"block", index},
                   {"num_heads", config.num_heads},
                   {"num_kv_heads", config.num_kv_heads},
                   {"head_dim", config.head_dim},
                   {"rope_theta", config.rope_theta},
                   {"hidden_act", config.hidden_act}});
    }
    std::cerr << "block " << index << " setting " << name << " dumped\n";
  }
}

int Run(int argc, char** argv) {
  const Options options = ParseOptions(argc, argv);
  const std::filesystem::path path =
      options.source / "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
  io::LoadedModel opened = io::OpenModel(path);
  auto tokens = tokenizer::MakeTokenizer(opened.tokenizer);
  const std::vector<int32_t> text = pipeline::TokenizeTextFile(
      options.data / "wiki.valid.tokens", *tokens, "calibration");
  const at::Tensor ids = pipeline::DrawWindows(
      text, options.windows, options.seq_len, options.seed, "calibration");
  std::shared_ptr<const io::TensorSource> source(std::move(opened.tensors));
  std::unique_ptr<model::Model> model =
      model::MakeModel(opened.config, source, {});
  const quant::QuantScheme scheme = quant::ParseScheme(options.scheme);
  ContextCache contexts(*model, options.seq_len);
  const model::ForwardContext context = model->MakeContext(ids);
  at::Tensor hidden = model->Embed(ids, context);
  std::filesystem::create_directories(options.out);
  nlohmann::json meta = {
      {"windows", options.windows},
      {"seq_len", options.seq_len},
      {"seed", options.seed},
      {"scheme", options.scheme},
      {"ids", std::vector<int64_t>(ids.data_ptr<int64_t>(),
                                   ids.data_ptr<int64_t>() + ids.numel())}};
  std::ofstream(options.out / "dump.json") << meta.dump() << "\n";
  const int64_t last = *options.blocks.rbegin();
  for (int64_t i = 0; i <= last; ++i) {
    if (options.blocks.count(i) != 0) {
      DumpBlock(options, *model, scheme, i, hidden, contexts);
    }
    hidden = model->LoadBlock(i)->Forward(hidden, context);
  }
  return 0;
}

}  // namespace
}  // namespace quantd::engine::methods

int main(int argc, char** argv) {
  try {
    return quantd::engine::methods::Run(argc, argv);
  } catch (const std::exception& error) {
    std::cerr << "quantd_engine_osplus_sites_dump: " << error.what() << "\n";
    return 1;
  }
}
