#include "worker/engine/export/tokenizer_files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "contract/sha256.h"
#include "worker/engine/export/atomic_file.h"
#include "worker/engine/export/export_error.h"
#include "worker/engine/export/export_test_util.h"
#include "worker/engine/export/hf_model_exporter.h"
#include "worker/engine/io/gguf_config.h"
#include "worker/engine/io/io_test_util.h"
#include "worker/engine/tokenizer/tokenizer.h"

namespace quantd::engine::exporting {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kTemplate[] =
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{{ m['content'] }}<|im_end|>\n{% endfor %}";

// A byte-level BPE vocabulary in GGUF form: three control tokens, one
// user-defined token, a few byte tokens and merges ("12" merges only
// without SmolLM2's digit split).
struct TinyVocab {
  std::string model = "gpt2";
  std::string pre = "smollm";
  bool add_bos = false;
  std::vector<std::string> tokens = {"<|endoftext|>",
                                     "<|im_start|>",
                                     "<|im_end|>",
                                     "<tool>",
                                     "h",
                                     "e",
                                     "l",
                                     "o",
                                     "Ġ",
                                     "w",
                                     "r",
                                     "d",
                                     "1",
                                     "2",
                                     "he",
                                     "ll",
                                     "hell",
                                     "Ġw",
                                     "or",
                                     "12"};
  std::vector<int32_t> types = {3, 3, 3, 4, 1, 1, 1, 1, 1, 1,
                                1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  std::vector<std::string> merges = {"h e", "l l", "he ll",
                                     "Ġ w", "o r", "1 2"};

  std::string Build() const {
    io::testing::GgufBuilder builder;
    builder.String("general.architecture", "llama")
        .Uint32("llama.context_length", 256)
        .String("tokenizer.ggml.model", model)
        .String("tokenizer.ggml.pre", pre)
        .StringArray("tokenizer.ggml.tokens", tokens)
        .Int32Array("tokenizer.ggml.token_type", types)
        .StringArray("tokenizer.ggml.merges", merges)
        .Uint32("tokenizer.ggml.bos_token_id", 1)
        .Uint32("tokenizer.ggml.eos_token_id", 2)
        .Uint32("tokenizer.ggml.unknown_token_id", 0)
        .Uint32("tokenizer.ggml.padding_token_id", 2)
        .Bool("tokenizer.ggml.add_bos_token", add_bos)
        .String("tokenizer.chat_template", kTemplate);
    return builder.Build();
  }
};

class TokenizerFilesTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::ScratchDir("tokenizer_files"); }
  void TearDown() override { testing::RemoveScratch(dir_); }

  fs::path WriteGguf(const TinyVocab& vocab, const std::string& name = "m") {
    const fs::path path = dir_ / (name + ".gguf");
    WriteFileAtomically(path, vocab.Build());
    return path;
  }
  json ReadJson(const fs::path& path) const {
    return json::parse(testing::ReadFile(path));
  }
  // Files in `dir`, by name.
  static std::vector<std::string> Names(const std::vector<ShardFile>& files) {
    std::vector<std::string> names;
    for (const ShardFile& file : files) names.push_back(file.name);
    return names;
  }

  fs::path dir_;
};

TEST_F(TokenizerFilesTest, BuildsHfFilesFromGgufMetadata) {
  const fs::path out = dir_ / "out";
  const std::vector<ShardFile> files =
      WriteTokenizerFiles(WriteGguf(TinyVocab()), out);
  EXPECT_EQ(Names(files),
            (std::vector<std::string>{"tokenizer.json", "tokenizer_config.json",
                                      "special_tokens_map.json",
                                      "generation_config.json"}));
  for (const ShardFile& file : files) {
    EXPECT_EQ(file.file.path, out / file.name);
    EXPECT_EQ(file.file.sha256, contract::Sha256FileHex(out / file.name));
  }
  const json tokenizer = ReadJson(out / "tokenizer.json");
  EXPECT_EQ(tokenizer["model"]["type"], "BPE");
  EXPECT_EQ(tokenizer["model"]["vocab"].size(), 20);
  EXPECT_EQ(tokenizer["model"]["vocab"]["Ġw"], 17);
  EXPECT_EQ(tokenizer["model"]["merges"][2], json::array({"he", "ll"}));
  EXPECT_EQ(tokenizer["pre_tokenizer"]["pretokenizers"][0]["type"], "Digits");
  EXPECT_EQ(tokenizer["decoder"]["type"], "ByteLevel");
  ASSERT_EQ(tokenizer["added_tokens"].size(), 4);
  EXPECT_EQ(tokenizer["added_tokens"][2]["content"], "<|im_end|>");
  EXPECT_EQ(tokenizer["added_tokens"][2]["special"], true);
  EXPECT_EQ(tokenizer["added_tokens"][3]["special"], false);

  const json config = ReadJson(out / "tokenizer_config.json");
  EXPECT_EQ(config["tokenizer_class"], "PreTrainedTokenizerFast");
  EXPECT_EQ(config["bos_token"], "<|im_start|>");
  EXPECT_EQ(config["eos_token"], "<|im_end|>");
  EXPECT_EQ(config["unk_token"], "<|endoftext|>");
  EXPECT_EQ(config["pad_token"], "<|im_end|>");
  EXPECT_EQ(config["add_bos_token"], false);
  EXPECT_EQ(config["add_eos_token"], false);
  EXPECT_EQ(config["chat_template"], kTemplate);
  EXPECT_EQ(config["model_max_length"], 256);
  EXPECT_EQ(ReadJson(out / "special_tokens_map.json"),
            (json{{"bos_token", "<|im_start|>"},
                  {"eos_token", "<|im_end|>"},
                  {"unk_token", "<|endoftext|>"},
                  {"pad_token", "<|im_end|>"}}));
  EXPECT_EQ(
      ReadJson(out / "generation_config.json"),
      (json{{"bos_token_id", 1}, {"eos_token_id", 2}, {"pad_token_id", 2}}));
  // Atomic writes leave no temporary file behind.
  for (const auto& entry : fs::directory_iterator(out)) {
    EXPECT_NE(entry.path().filename().string()[0], '.') << entry.path();
  }
}

TEST_F(TokenizerFilesTest, SameSourceGivesTheSameBytes) {
  const fs::path gguf = WriteGguf(TinyVocab());
  const std::vector<ShardFile> first = WriteTokenizerFiles(gguf, dir_ / "a");
  const std::vector<ShardFile> second = WriteTokenizerFiles(gguf, dir_ / "b");
  ASSERT_EQ(first.size(), second.size());
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(first[i].file.sha256, second[i].file.sha256) << first[i].name;
    EXPECT_EQ(testing::ReadFile(dir_ / "a" / first[i].name),
              testing::ReadFile(dir_ / "b" / second[i].name));
  }
}

// The engine's own tokenizer, built from the exported tokenizer.json, gives
// the ids of the one built from the GGUF metadata: digit splitting,
// special and user-defined tokens, BOS.
TEST_F(TokenizerFilesTest, ExportedTokenizerJsonEncodesLikeTheGguf) {
  const std::string text = "hello world 12 or 21<|im_end|><tool>\nhe";
  for (const std::string pre : {"smollm", "gpt2", "default"}) {
    for (bool add_bos : {false, true}) {
      SCOPED_TRACE(pre + (add_bos ? " +bos" : ""));
      TinyVocab vocab;
      vocab.pre = pre;
      vocab.add_bos = add_bos;
      const fs::path gguf = WriteGguf(vocab, pre);
      const fs::path out = dir_ / ("out_" + pre + std::to_string(add_bos));
      WriteTokenizerFiles(gguf, out);
      tokenizer::TokenizerData exported;
      exported.kind = tokenizer::TokenizerData::Kind::kTokenizerJson;
      exported.tokenizer_json = out / "tokenizer.json";
      auto from_json = tokenizer::MakeTokenizer(exported);
      auto from_gguf =
          tokenizer::MakeTokenizer(io::TokenizerFromGguf(io::GgufFile(gguf)));
      for (bool add_special : {false, true}) {
        const std::vector<int32_t> ids = from_gguf->Encode(text, add_special);
        EXPECT_EQ(from_json->Encode(text, add_special), ids);
        EXPECT_EQ(from_json->Decode(ids), from_gguf->Decode(ids));
      }
      const std::vector<int32_t> digits = from_gguf->Encode("12", false);
      EXPECT_EQ(digits.size(), pre == "smollm" ? 2 : 1);
      EXPECT_EQ(from_gguf->Encode("he", true).front() == 1, add_bos);
    }
  }
}

TEST_F(TokenizerFilesTest, RefusesSentencePieceNamingTheFileAndKey) {
  TinyVocab vocab;
  vocab.model = "llama";
  const fs::path gguf = WriteGguf(vocab);
  try {
    CheckTokenizerExportable(gguf);
    FAIL() << "no ExportError";
  } catch (const ExportError& error) {
    EXPECT_THAT(error.what(), HasSubstr(gguf.string()));
    EXPECT_THAT(error.what(), HasSubstr("tokenizer.ggml.model 'llama'"));
  }
  EXPECT_THROW(WriteTokenizerFiles(gguf, dir_ / "out"), ExportError);
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

TEST_F(TokenizerFilesTest, RefusesInconsistentMetadata) {
  struct Case {
    const char* key;
    TinyVocab vocab;
  };
  std::vector<Case> cases(5);
  cases[0].key = "tokenizer.ggml.pre";
  cases[0].vocab.pre = "qwen2";
  cases[1].key = "tokenizer.ggml.tokens[19]";
  cases[1].vocab.tokens[19] = "he";  // A duplicate.
  cases[2].key = "tokenizer.ggml.merges[1]";
  cases[2].vocab.merges[1] = "l x";  // Not in the vocabulary.
  cases[3].key = "tokenizer.ggml.merges[0]";
  cases[3].vocab.merges[0] = "he";  // No space.
  cases[4].key = "tokenizer.ggml.tokens[4]";
  cases[4].vocab.tokens[4] = "\xff";  // Not UTF-8.
  for (const Case& c : cases) {
    const fs::path gguf = WriteGguf(c.vocab);
    try {
      CheckTokenizerExportable(gguf);
      ADD_FAILURE() << c.key << ": no ExportError";
    } catch (const ExportError& error) {
      EXPECT_THAT(error.what(), HasSubstr(c.key));
    }
  }
}

TEST_F(TokenizerFilesTest, RefusesAGgufWithoutTokenizer) {
  const fs::path gguf = dir_ / "bare.gguf";
  WriteFileAtomically(gguf, io::testing::GgufBuilder()
                                .String("general.architecture", "llama")
                                .Build());
  EXPECT_THROW(CheckTokenizerExportable(gguf), ExportError);
  // A truncated GGUF is a FormatError from io, reported as an ExportError.
  const std::string bytes = TinyVocab().Build();
  const fs::path truncated = dir_ / "truncated.gguf";
  WriteFileAtomically(truncated, bytes.substr(0, bytes.size() / 2));
  EXPECT_THROW(CheckTokenizerExportable(truncated), ExportError);
}

TEST_F(TokenizerFilesTest, CopiesAnHfDirectorysFilesAndNothingElse) {
  const fs::path source = dir_ / "hf";
  WriteFileAtomically(source / "config.json", "{}");
  WriteFileAtomically(source / "tokenizer.json", "{\"model\": {}}");
  WriteFileAtomically(source / "chat_template.jinja", "{{ x }}");
  WriteFileAtomically(source / "model.safetensors", "weights");
  const std::vector<ShardFile> files =
      WriteTokenizerFiles(source, dir_ / "out");
  EXPECT_EQ(Names(files), (std::vector<std::string>{"tokenizer.json",
                                                    "chat_template.jinja"}));
  EXPECT_EQ(testing::ReadFile(dir_ / "out/chat_template.jinja"), "{{ x }}");
  EXPECT_FALSE(fs::exists(dir_ / "out/model.safetensors"));
}

// In-memory test models name a file that does not exist or is no GGUF.
TEST_F(TokenizerFilesTest, WritesNothingForASourceWithoutTokenizer) {
  const fs::path fake = dir_ / "fake.gguf";
  WriteFileAtomically(fake, "tiny");
  for (const fs::path& source : {fake, dir_ / "missing.gguf"}) {
    CheckTokenizerExportable(source);
    EXPECT_TRUE(WriteTokenizerFiles(source, dir_ / "out").empty()) << source;
  }
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

// The HF model exporter writes the files beside the weights, and refuses
// an unexportable tokenizer when constructed, before any block work.
TEST_F(TokenizerFilesTest, HfModelExporterCarriesTheGgufTokenizer) {
  testing::TinyModel tiny = testing::MakeTinyLlama();
  HfModelExporter exporter(tiny.model->config(),
                           {dir_ / "model", WriteGguf(TinyVocab())});
  exporter.Add(tiny.model->NamedTensors());
  EXPECT_EQ(Names(exporter.Finish()),
            (std::vector<std::string>{"model.safetensors", "config.json",
                                      "tokenizer.json", "tokenizer_config.json",
                                      "special_tokens_map.json",
                                      "generation_config.json"}));

  TinyVocab llama;
  llama.model = "llama";
  EXPECT_THROW(HfModelExporter(tiny.model->config(),
                               {dir_ / "refused", WriteGguf(llama, "llama")}),
               ExportError);
}

}  // namespace
}  // namespace quantd::engine::exporting
