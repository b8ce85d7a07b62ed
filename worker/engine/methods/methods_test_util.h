// Helpers shared by the methods unit tests: tiny random models of every
// architecture and calibration streams at a block's input.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <vector>

#include "worker/engine/methods/method.h"
#include "worker/engine/model/model_factory.h"
#include "worker/engine/model/test_models.h"

namespace quantd::engine::methods::testing {

inline std::vector<io::ModelConfig> AllTinyConfigs() {
  return {
      model::testing::TinyLlamaConfig(), model::testing::TinyOptConfig(true),
      model::testing::TinyOptConfig(false), model::testing::TinyBertConfig()};
}

inline std::unique_ptr<model::Model> TinyModel(const io::ModelConfig& config,
                                               uint64_t seed = 7) {
  return model::MakeModel(config, model::testing::RandomWeights(config, seed),
                          {});
}

// `batches` batches of [batch, seq] random tokens, embedded: the input
// stream of block 0.
inline BlockInputs EmbeddedInputs(const model::Model& model, int64_t batches,
                                  int64_t batch, int64_t seq,
                                  uint64_t seed = 3) {
  at::Generator generator = at::detail::createCPUGenerator(seed);
  BlockInputs inputs;
  for (int64_t i = 0; i < batches; ++i) {
    at::Tensor ids =
        at::randint(model.config().vocab_size, {batch, seq}, generator);
    inputs.quantized.push_back(model.Embed(ids, model.MakeContext(ids)));
  }
  return inputs;
}

// ‖a − b‖ / ‖b‖.
inline double RelativeError(const at::Tensor& a, const at::Tensor& b) {
  return ((a.to(at::kDouble) - b.to(at::kDouble)).norm() /
          b.to(at::kDouble).norm())
      .item<double>();
}

}  // namespace quantd::engine::methods::testing
