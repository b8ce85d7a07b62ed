// Parity with transformers on tiny random checkpoints written by
// tests/reference/model/tiny_models.py (OPT pre-LN, OPT post-LN with
// project_in/out, LLaMA with GQA and tied embeddings): the checkpoint goes
// through the engine's whole loading path (config.json, safetensors) and
// the logits must match transformers' eager fp32 forward on every real
// token of a batch with one padded row.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "worker/engine/model/model_factory.h"

namespace quantd::engine::model {
namespace {

namespace fs = std::filesystem;

fs::path SourceDir() {
  const char* dir = std::getenv("QUANTD_SOURCE_DIR");
  return dir != nullptr ? fs::path(dir) : fs::current_path();
}

class ReferenceTest : public ::testing::Test {
 protected:
  // One Python run writes every case (importing transformers dominates).
  static void SetUpTestSuite() {
    out_dir_ = fs::temp_directory_path() /
               ("quantd-model-ref-" + std::to_string(getpid()));
    fs::create_directories(out_dir_);
    std::string command =
        std::string(QUANTD_PYTHON) + " " +
        (SourceDir() / "tests/reference/model/tiny_models.py").string() +
        " --out " + out_dir_.string() + " > " +
        (out_dir_ / "python.log").string() + " 2>&1";
    python_status_ = std::system(command.c_str());
  }

  // Not fs::remove_all: libtorch.so exports its own std::filesystem, whose
  // remove_all crashes when a binary links both.
  static void TearDownTestSuite() {
    int status = std::system(("rm -rf '" + out_dir_.string() + "'").c_str());
    (void)status;
  }

  void ExpectMatches(const std::string& name) {
    ASSERT_EQ(python_status_, 0)
        << "tiny_models.py failed; see " << (out_dir_ / "python.log");
    fs::path dir = out_dir_ / name;
    std::ifstream file(dir / "reference.json");
    nlohmann::json reference = nlohmann::json::parse(file);
    auto shape = reference["logits_shape"].get<std::vector<int64_t>>();
    at::Tensor ids = Matrix(reference["ids"]);
    at::Tensor mask = Matrix(reference["mask"]);
    auto values = reference["logits"].get<std::vector<float>>();
    at::Tensor expected = at::from_blob(values.data(), shape).clone();

    for (bool fused : {true, false}) {
      ModelOptions options;
      options.fused_attention = fused;
      LoadedModel loaded = LoadModel(dir, options);
      at::Tensor logits = loaded.model->Forward(ids, mask);
      ASSERT_EQ(logits.sizes(), expected.sizes());
      at::Tensor real = mask.to(at::kBool);
      at::Tensor got = logits.index({real});
      at::Tensor want = expected.index({real});
      double max_abs = (got - want).abs().max().item<double>();
      std::cout << name << (fused ? " fused" : " explicit")
                << ": max |logit diff| = " << max_abs
                << " (max |logit| = " << want.abs().max().item<double>()
                << ")\n";
      EXPECT_TRUE(at::allclose(got, want, /*rtol=*/1e-5, /*atol=*/1e-4))
          << name << " max abs diff " << max_abs;
    }
  }

  static at::Tensor Matrix(const nlohmann::json& rows) {
    auto values = rows.get<std::vector<std::vector<int64_t>>>();
    std::vector<at::Tensor> tensors;
    for (auto& row : values) tensors.push_back(at::tensor(row, at::kLong));
    return at::stack(tensors);
  }

  static inline fs::path out_dir_;
  static inline int python_status_ = -1;
};

TEST_F(ReferenceTest, TinyOptMatchesTransformers) { ExpectMatches("opt"); }

TEST_F(ReferenceTest, TinyPostNormOptWithProjectionsMatchesTransformers) {
  ExpectMatches("opt_post_norm");
}

TEST_F(ReferenceTest, TinyLlamaWithGqaAndTiedHeadMatchesTransformers) {
  ExpectMatches("llama");
}

}  // namespace
}  // namespace quantd::engine::model
