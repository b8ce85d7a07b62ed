// A block of a REAL model (installed by scripts/bootstrap) with the hidden
// states of a fixed English sentence at its input, for the tests that check
// a transformation on real weights (real_model_equivalence_test.cc,
// omniquant_real_test.cc). A missing model fails the test.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <vector>

#include "worker/engine/model/model_factory.h"

namespace quantd::engine::methods::testing {

inline constexpr char kRealBlockText[] =
    "The tower is 324 metres tall, about the same height as an 81-storey "
    "building, and the tallest structure in Paris. Its base is square, "
    "measuring 125 metres on each side. During its construction, the Eiffel "
    "Tower surpassed the Washington Monument to become the tallest man-made "
    "structure in the world.";

// `relative` under <repo>/models ($QUANTD_SOURCE_DIR or the working dir).
inline std::filesystem::path RealModelPath(const char* relative) {
  const char* root = std::getenv("QUANTD_SOURCE_DIR");
  std::filesystem::path path =
      std::filesystem::path(root ? root : ".") / "models" / relative;
  if (!std::filesystem::exists(path)) {
    ADD_FAILURE() << path << " is missing: run scripts/bootstrap";
  }
  return path;
}

struct RealBlock {
  model::LoadedModel loaded;
  std::unique_ptr<model::Block> block;
  at::Tensor input;  // [1, T, C], the FP hidden states at the block's input.
  model::ForwardContext context;
};

// Block `index` of the model at `relative` with the text's FP hidden states
// at its input.
inline RealBlock LoadRealBlock(const char* relative, int64_t index) {
  RealBlock real;
  real.loaded = model::LoadModel(RealModelPath(relative), {});
  std::vector<int32_t> ids =
      real.loaded.tokenizer->Encode(kRealBlockText, false);
  at::Tensor tokens =
      at::tensor(std::vector<int64_t>(ids.begin(), ids.end())).unsqueeze(0);
  const model::Model& m = *real.loaded.model;
  real.context = m.MakeContext(tokens);
  real.input = m.Embed(tokens, real.context);
  for (int64_t i = 0; i < index; ++i) {
    real.input = m.LoadBlock(i)->Forward(real.input, real.context);
  }
  real.block = m.LoadBlock(index);
  return real;
}

}  // namespace quantd::engine::methods::testing
