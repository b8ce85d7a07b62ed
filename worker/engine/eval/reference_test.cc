// Parity of the engine's evaluation with transformers on the real models the
// bootstrap installs (the test fails, never skips, when one is missing):
//   * SmolLM2-135M-Instruct (GGUF, dequantized): WikiText-2 test perplexity
//     on the same token windows within 0.1 % relative;
//   * all-MiniLM-L6-v2: mean-pooled embeddings of 100 WikiText-2
//     validation sentences with cosine ≥ 0.99999 each.
// The reference scripts live in tests/reference/model/.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "worker/engine/eval/perplexity.h"
#include "worker/engine/eval/similarity.h"
#include "worker/engine/model/model_factory.h"

namespace quantd::engine::eval {
namespace {

namespace fs = std::filesystem;

fs::path SourceDir() {
  const char* dir = std::getenv("QUANTD_SOURCE_DIR");
  return dir != nullptr ? fs::path(dir) : fs::current_path();
}

fs::path ScratchDir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() /
                 ("quantd-eval-ref-" + name + "-" + std::to_string(getpid()));
  fs::create_directories(dir);
  return dir;
}

// Not fs::remove_all: libtorch.so exports its own std::filesystem, whose
// remove_all crashes when a binary links both.
void RemoveScratch(const fs::path& dir) {
  int status = std::system(("rm -rf '" + dir.string() + "'").c_str());
  (void)status;
}

// Runs a reference script; returns its exit status (output in LOG).
int RunPython(const std::string& script, const std::string& arguments,
              const fs::path& log) {
  std::string command =
      std::string(QUANTD_PYTHON) + " " +
      (SourceDir() / "tests/reference/model" / script).string() + " " +
      arguments + " > " + log.string() + " 2>&1";
  return std::system(command.c_str());
}

template <typename T>
void WriteBinary(const fs::path& path, const T* data, size_t count) {
  std::ofstream file(path, std::ios::binary);
  file.write(reinterpret_cast<const char*>(data),
             static_cast<std::streamsize>(count * sizeof(T)));
}

TEST(EvalReferenceTest, SmolLm2PerplexityMatchesTransformers) {
  fs::path gguf =
      SourceDir() / "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
  fs::path data = fs::path(SourceDir()).parent_path() /
                  "shared/data/wikitext-2/wiki.test.raw";
  ASSERT_TRUE(fs::exists(gguf)) << gguf << " missing: run scripts/bootstrap";
  ASSERT_TRUE(fs::exists(data)) << data << " missing";
  model::LoadedModel loaded = model::LoadModel(gguf, {});
  ASSERT_NE(loaded.tokenizer, nullptr);
  std::vector<int32_t> tokens = TokenizeText(*loaded.tokenizer, ReadText(data));
  PerplexityOptions options;
  options.seq_len = 256;
  options.max_tokens = 4 * 256;
  options.batch_size = 2;
  PerplexityResult result = EvaluatePerplexity(*loaded.model, tokens, options);
  ASSERT_EQ(result.windows, 4);

  fs::path dir = ScratchDir("smollm2");
  WriteBinary(dir / "ids.bin", tokens.data(), 4 * 256);
  at::Tensor window =
      at::tensor(at::ArrayRef<int32_t>(tokens.data(), 256), at::kInt)
          .to(at::kLong)
          .view({1, 256});
  at::Tensor logits = loaded.model->Forward(window)[0].contiguous();
  WriteBinary(dir / "logits.bin", logits.data_ptr<float>(),
              static_cast<size_t>(logits.numel()));
  int status = RunPython(
      "smollm2_perplexity.py",
      "--gguf " + gguf.string() + " --ids " + (dir / "ids.bin").string() +
          " --seq-len 256 --logits " + (dir / "logits.bin").string() +
          " --out " + (dir / "reference.json").string(),
      dir / "python.log");
  ASSERT_EQ(status, 0) << "see " << (dir / "python.log");
  std::ifstream file(dir / "reference.json");
  nlohmann::json reference = nlohmann::json::parse(file);
  double want = reference["ppl"].get<double>();
  std::cout << "SmolLM2 wiki.test.raw 4x256: engine ppl " << result.ppl
            << ", transformers ppl " << want << ", relative diff "
            << std::abs(result.ppl - want) / want
            << "; window 0 max |logit diff| "
            << reference["max_abs_logit_diff"].get<double>() << " (max |logit| "
            << reference["max_abs_logit"].get<double>() << ")\n";
  EXPECT_LT(std::abs(result.ppl - want) / want, 1e-3);
  auto losses = reference["window_losses"].get<std::vector<double>>();
  for (size_t i = 0; i < losses.size(); ++i) {
    EXPECT_NEAR(result.window_losses[i], losses[i], 1e-3) << "window " << i;
  }
  EXPECT_LT(reference["max_abs_logit_diff"].get<double>(), 1e-2);
  RemoveScratch(dir);
}

// The first 100 lines of wiki.valid.tokens that are body text (not blank,
// not a " = heading = ") and 20–400 characters long, so no sentence needs
// truncation.
std::vector<std::string> ValidationSentences(const fs::path& path) {
  std::ifstream file(path);
  std::vector<std::string> sentences;
  std::string line;
  while (sentences.size() < 100 && std::getline(file, line)) {
    size_t start = line.find_first_not_of(' ');
    if (start == std::string::npos || line[start] == '=') continue;
    std::string text = line.substr(start);
    while (!text.empty() && text.back() == ' ') text.pop_back();
    if (text.size() >= 20 && text.size() <= 400) sentences.push_back(text);
  }
  return sentences;
}

TEST(EvalReferenceTest, MiniLmEmbeddingsMatchTransformers) {
  fs::path model_dir = SourceDir() / "models/all-minilm-l6-v2";
  fs::path data = fs::path(SourceDir()).parent_path() /
                  "shared/data/wikitext-2/wiki.valid.tokens";
  ASSERT_TRUE(fs::exists(model_dir / "model.safetensors"))
      << model_dir << " missing: run scripts/bootstrap";
  std::vector<std::string> sentences = ValidationSentences(data);
  ASSERT_EQ(sentences.size(), 100u);
  model::LoadedModel loaded = model::LoadModel(model_dir, {});
  ASSERT_NE(loaded.tokenizer, nullptr);
  EmbeddingOptions options;
  auto ids = TokenizeSentences(*loaded.tokenizer, sentences, options);
  at::Tensor engine = EmbedTokenIds(*loaded.model, ids, 0, options);

  fs::path dir = ScratchDir("minilm");
  {
    std::ofstream request(dir / "input.json");
    request << nlohmann::json{{"sentences", sentences}, {"ids", ids}};
  }
  int status = RunPython("minilm_embeddings.py",
                         "--model " + model_dir.string() + " --input " +
                             (dir / "input.json").string() + " --out " +
                             (dir / "reference.json").string(),
                         dir / "python.log");
  ASSERT_EQ(status, 0) << "see " << (dir / "python.log");
  std::ifstream file(dir / "reference.json");
  nlohmann::json reference = nlohmann::json::parse(file);
  auto rows = reference["embeddings"].get<std::vector<std::vector<float>>>();
  std::vector<at::Tensor> tensors;
  for (auto& row : rows) tensors.push_back(at::tensor(row));
  SimilarityResult similarity = CompareEmbeddings(engine, at::stack(tensors));
  std::cout << "MiniLM 100 sentences: min cosine " << similarity.min_cosine
            << ", mean " << similarity.mean_cosine << "\n";
  EXPECT_GE(similarity.min_cosine, 0.99999);
  // The tokenizer's own parity, reported separately from the forward's.
  auto hf_ids = reference["hf_ids"].get<std::vector<std::vector<int32_t>>>();
  int mismatches = 0;
  for (size_t i = 0; i < ids.size(); ++i) mismatches += ids[i] != hf_ids[i];
  EXPECT_EQ(mismatches, 0) << "sentences tokenized differently from HF";
  RemoveScratch(dir);
}

}  // namespace
}  // namespace quantd::engine::eval
