#include "worker/engine/io/hf_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "worker/engine/io/format_error.h"
#include "worker/engine/io/io_test_util.h"

namespace quantd::engine::io {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

json LlamaJson() {
  return {{"model_type", "llama"},       {"vocab_size", 49152},
          {"hidden_size", 576},          {"intermediate_size", 1536},
          {"num_hidden_layers", 30},     {"num_attention_heads", 9},
          {"num_key_value_heads", 3},    {"max_position_embeddings", 8192},
          {"rms_norm_eps", 1e-5},        {"rope_theta", 100000.0},
          {"tie_word_embeddings", true}, {"bos_token_id", 1},
          {"eos_token_id", 2},           {"pad_token_id", nullptr}};
}

void ExpectRejected(const json& config, const std::string& problem) {
  try {
    ParseHfConfig(config.dump(), "dir/config.json");
    ADD_FAILURE() << "accepted: " << config.dump();
  } catch (const FormatError& error) {
    EXPECT_THAT(error.what(), HasSubstr("dir/config.json: "));
    EXPECT_THAT(error.what(), HasSubstr(problem));
  }
}

TEST(HfConfigTest, ParsesLlama) {
  const ModelConfig c = ParseHfConfig(LlamaJson().dump(), "config.json");
  EXPECT_EQ(c.architecture, Architecture::kLlama);
  EXPECT_EQ(c.model_type, "llama");
  EXPECT_EQ(c.vocab_size, 49152);
  EXPECT_EQ(c.hidden_size, 576);
  EXPECT_EQ(c.intermediate_size, 1536);
  EXPECT_EQ(c.num_layers, 30);
  EXPECT_EQ(c.num_heads, 9);
  EXPECT_EQ(c.num_kv_heads, 3);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.max_position_embeddings, 8192);
  EXPECT_DOUBLE_EQ(c.norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(c.rope_theta, 100000.0);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.hidden_act, "silu");
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.eos_token_id, 2);
  EXPECT_EQ(c.pad_token_id, -1);
  EXPECT_FALSE(c.attention_bias);
}

TEST(HfConfigTest, ParsesMistralAndQwen2Variants) {
  json mistral = LlamaJson();
  mistral["model_type"] = "mistral";
  mistral["sliding_window"] = 4096;
  mistral["eos_token_id"] = {2, 7};
  mistral.erase("rope_theta");
  mistral["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 1e6}};
  const ModelConfig m = ParseHfConfig(mistral.dump(), "config.json");
  EXPECT_EQ(m.sliding_window, 4096);
  EXPECT_EQ(m.eos_token_id, 2);
  EXPECT_DOUBLE_EQ(m.rope_theta, 1e6);
  json qwen = LlamaJson();
  qwen["model_type"] = "qwen2";
  qwen["head_dim"] = 32;
  qwen["use_sliding_window"] = false;
  const ModelConfig q = ParseHfConfig(qwen.dump(), "config.json");
  EXPECT_TRUE(q.attention_bias);
  EXPECT_EQ(q.head_dim, 32);
  json inferred = LlamaJson();
  inferred.erase("model_type");
  inferred["architectures"] = {"Qwen2ForCausalLM"};
  EXPECT_EQ(ParseHfConfig(inferred.dump(), "config.json").model_type, "qwen2");
}

TEST(HfConfigTest, ParsesOpt) {
  const json opt = {{"model_type", "opt"},
                    {"vocab_size", 50272},
                    {"hidden_size", 768},
                    {"ffn_dim", 3072},
                    {"num_hidden_layers", 12},
                    {"num_attention_heads", 12},
                    {"max_position_embeddings", 2048},
                    {"do_layer_norm_before", true},
                    {"word_embed_proj_dim", 768},
                    {"activation_function", "relu"},
                    {"bos_token_id", 2},
                    {"eos_token_id", 2},
                    {"pad_token_id", 1}};
  const ModelConfig c = ParseHfConfig(opt.dump(), "config.json");
  EXPECT_EQ(c.architecture, Architecture::kOpt);
  EXPECT_EQ(c.intermediate_size, 3072);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.num_kv_heads, 12);
  EXPECT_TRUE(c.do_layer_norm_before);
  EXPECT_TRUE(c.enable_bias);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.hidden_act, "relu");
  EXPECT_EQ(c.pad_token_id, 1);
}

TEST(HfConfigTest, ParsesRealMiniLmConfig) {
  const ModelConfig c = LoadHfConfig(testing::SourceDir() /
                                     "models/all-minilm-l6-v2/config.json");
  EXPECT_EQ(c.architecture, Architecture::kBert);
  EXPECT_EQ(c.vocab_size, 30522);
  EXPECT_EQ(c.hidden_size, 384);
  EXPECT_EQ(c.intermediate_size, 1536);
  EXPECT_EQ(c.num_layers, 6);
  EXPECT_EQ(c.num_heads, 12);
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_EQ(c.max_position_embeddings, 512);
  EXPECT_EQ(c.type_vocab_size, 2);
  EXPECT_DOUBLE_EQ(c.norm_eps, 1e-12);
  EXPECT_EQ(c.hidden_act, "gelu");
  EXPECT_EQ(c.pad_token_id, 0);
}

TEST(HfConfigTest, RejectsMissingField) {
  json config = LlamaJson();
  config.erase("hidden_size");
  ExpectRejected(config, "field 'hidden_size': missing");
}

TEST(HfConfigTest, RejectsWrongType) {
  json config = LlamaJson();
  config["num_hidden_layers"] = "30";
  ExpectRejected(
      config,
      "field 'num_hidden_layers': wrong type: expected integer, got string");
  config = LlamaJson();
  config["tie_word_embeddings"] = 1;
  ExpectRejected(
      config,
      "field 'tie_word_embeddings': wrong type: expected boolean, got integer");
}

TEST(HfConfigTest, RejectsOutOfRange) {
  json config = LlamaJson();
  config["vocab_size"] = -5;
  ExpectRejected(config, "field 'vocab_size': out of range: -5");
  config = LlamaJson();
  config["num_key_value_heads"] = 2;
  ExpectRejected(
      config,
      "field 'num_key_value_heads': 2 does not divide num_attention_heads 9");
  config = LlamaJson();
  config["rms_norm_eps"] = 0;
  ExpectRejected(config, "field 'rms_norm_eps': out of range");
  config = LlamaJson();
  config["eos_token_id"] = 49152;
  ExpectRejected(config, "field 'eos_token_id': out of range: 49152");
  config = LlamaJson();
  config["num_attention_heads"] = 7;
  config.erase("num_key_value_heads");
  ExpectRejected(
      config, "field 'num_attention_heads': 7 does not divide hidden_size 576");
}

TEST(HfConfigTest, RejectsUnknownModelTypeAndUnsupportedOptions) {
  json config = LlamaJson();
  config["model_type"] = "gpt_neox";
  ExpectRejected(config, "field 'model_type': unknown model_type 'gpt_neox'");
  config.erase("model_type");
  config["architectures"] = {"GPTNeoXForCausalLM"};
  ExpectRejected(
      config,
      "field 'architectures': unknown architecture 'GPTNeoXForCausalLM'");
  config = LlamaJson();
  config["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
  ExpectRejected(config,
                 "field 'rope_scaling': rope type \"llama3\" is not supported");
  config = LlamaJson();
  config["hidden_act"] = "gelu";
  ExpectRejected(config,
                 "field 'hidden_act': activation 'gelu' is not supported");
}

TEST(HfConfigTest, RejectsMalformedJson) {
  try {
    ParseHfConfig("{\"model_type\": ", "dir/config.json");
    FAIL();
  } catch (const FormatError& error) {
    EXPECT_THAT(error.what(),
                HasSubstr("dir/config.json: config is not valid JSON"));
  }
  try {
    // Found by fuzz/hf_config: a number past a double's range escaped as
    // nlohmann's out_of_range.
    ParseHfConfig(R"({"model_type": "llama", "hidden_size": 1e999})",
                  "dir/config.json");
    FAIL();
  } catch (const FormatError& error) {
    EXPECT_THAT(error.what(), HasSubstr("dir/config.json: config is not valid "
                                        "JSON (a number is out of range)"));
  }
  try {
    ParseHfConfig(R"({"model_type": "llama", "model_type": "opt"})",
                  "dir/config.json");
    FAIL();
  } catch (const FormatError& error) {
    EXPECT_THAT(error.what(), HasSubstr("field 'model_type': duplicate key"));
  }
}

}  // namespace
}  // namespace quantd::engine::io
