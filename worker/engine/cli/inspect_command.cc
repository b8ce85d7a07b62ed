#include "worker/engine/cli/inspect_command.h"

#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "worker/engine/cli/command_support.h"
#include "worker/engine/io/model_loader.h"
#include "worker/engine/tokenizer/tokenizer.h"

namespace quantd::engine::cli {
namespace {

struct InspectFlags {
  std::string model;
  bool json = false;
};

nlohmann::json ConfigJson(const io::ModelConfig& c) {
  return {{"architecture", io::ArchitectureName(c.architecture)},
          {"model_type", c.model_type},
          {"vocab_size", c.vocab_size},
          {"hidden_size", c.hidden_size},
          {"intermediate_size", c.intermediate_size},
          {"num_layers", c.num_layers},
          {"num_heads", c.num_heads},
          {"num_kv_heads", c.num_kv_heads},
          {"head_dim", c.head_dim},
          {"max_position_embeddings", c.max_position_embeddings},
          {"norm_eps", c.norm_eps},
          {"rope_theta", c.rope_theta},
          {"tie_word_embeddings", c.tie_word_embeddings},
          {"hidden_act", c.hidden_act}};
}

nlohmann::json TensorsJson(const io::TensorSource& source) {
  struct Totals {
    int64_t tensors = 0, parameters = 0, size_bytes = 0;
  };
  Totals all;
  std::map<std::string, Totals> by_type;
  for (const io::TensorInfo& info : source.Tensors()) {
    int64_t count = 1;
    for (int64_t dim : info.shape) count *= dim;
    for (Totals* totals : {&all, &by_type[io::StorageTypeName(info.storage)]}) {
      totals->tensors += 1;
      totals->parameters += count;
      totals->size_bytes += static_cast<int64_t>(info.size_bytes);
    }
  }
  nlohmann::json types = nlohmann::json::object();
  for (const auto& [type, totals] : by_type) {
    types[type] = {{"tensors", totals.tensors},
                   {"parameters", totals.parameters},
                   {"size_bytes", totals.size_bytes}};
  }
  return {{"count", all.tensors},
          {"parameters", all.parameters},
          {"size_bytes", all.size_bytes},
          {"storage_types", types}};
}

nlohmann::json TokenizerJson(const tokenizer::TokenizerData& data) {
  using Kind = tokenizer::TokenizerData::Kind;
  if (data.kind == Kind::kNone) return nullptr;
  std::unique_ptr<tokenizer::Tokenizer> built = tokenizer::MakeTokenizer(data);
  const tokenizer::SpecialIds& special = built->Special();
  nlohmann::json summary = {
      {"kind", data.kind == Kind::kGgufBpe ? "gguf" : "tokenizer.json"},
      {"vocab_size", built->VocabSize()},
      {"bos", special.bos},
      {"eos", special.eos},
      {"pad", special.pad},
      {"unk", special.unk},
      {"cls", special.cls},
      {"sep", special.sep}};
  if (data.kind == Kind::kGgufBpe) {
    summary["model"] = data.model;
    summary["pre"] = data.pre;
    summary["add_bos"] = data.add_bos;
    summary["add_eos"] = data.add_eos;
  } else {
    summary["path"] = data.tokenizer_json.string();
  }
  return summary;
}

void PrintHuman(const nlohmann::json& report) {
  const nlohmann::json& c = report["config"];
  const nlohmann::json& t = report["tensors"];
  std::cout << "model         " << report["path"].get<std::string>() << "\n"
            << "architecture  " << c["architecture"].get<std::string>()
            << " (model_type " << c["model_type"].get<std::string>() << ")\n"
            << "blocks        " << c["num_layers"] << ", hidden "
            << c["hidden_size"] << ", intermediate " << c["intermediate_size"]
            << ", heads " << c["num_heads"] << " (kv " << c["num_kv_heads"]
            << ", head_dim " << c["head_dim"] << ")\n"
            << "vocab         " << c["vocab_size"] << ", max positions "
            << c["max_position_embeddings"] << ", rope theta "
            << c["rope_theta"] << ", norm eps " << c["norm_eps"]
            << ", activation " << c["hidden_act"].get<std::string>()
            << ", tied head " << (c["tie_word_embeddings"] ? "yes" : "no")
            << "\n"
            << "parameters    " << t["parameters"] << " in " << t["count"]
            << " tensors, " << t["size_bytes"].get<int64_t>() / 1048576.0
            << " MiB on disk\n";
  for (const auto& [type, entry] : t["storage_types"].items()) {
    std::cout << "  " << type << ": " << entry["tensors"] << " tensors, "
              << entry["parameters"] << " parameters\n";
  }
  const nlohmann::json& k = report["tokenizer"];
  if (k.is_null()) {
    std::cout << "tokenizer     none\n";
    return;
  }
  std::cout << "tokenizer     " << k["kind"].get<std::string>() << ", vocab "
            << k["vocab_size"] << ", bos " << k["bos"] << ", eos " << k["eos"]
            << ", pad " << k["pad"] << ", unk " << k["unk"];
  if (k.contains("pre")) {
    std::cout << ", pre " << k["pre"].get<std::string>() << ", add_bos "
              << k["add_bos"];
  }
  std::cout << "\n";
}

int RunInspect(const InspectFlags& flags) {
  if (!std::filesystem::exists(flags.model)) {
    throw UsageError("--model " + flags.model + ": no such file or directory");
  }
  io::LoadedModel loaded = io::OpenModel(flags.model);
  nlohmann::json report = {{"path", flags.model},
                           {"config", ConfigJson(loaded.config)},
                           {"tensors", TensorsJson(*loaded.tensors)},
                           {"tokenizer", TokenizerJson(loaded.tokenizer)}};
  if (flags.json) {
    std::cout << report.dump() << "\n";
  } else {
    PrintHuman(report);
  }
  return 0;
}

}  // namespace

void AddInspectCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<InspectFlags>();
  CLI::App* command = app.add_subcommand(
      "inspect", "print a model's architecture, sizes, dtypes and tokenizer");
  command->add_option("--model", flags->model, "GGUF file or HF directory")
      ->required();
  command->add_flag("--json", flags->json, "print one JSON object");
  command->callback([flags, exit_code] {
    *exit_code = ReportErrors("inspect", [&] { return RunInspect(*flags); });
  });
}

}  // namespace quantd::engine::cli
