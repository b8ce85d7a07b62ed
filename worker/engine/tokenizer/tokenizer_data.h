// TokenizerData: everything needed to build a tokenizer, as plain data, so a
// model loader (GGUF metadata, tokenizer.json) can describe a tokenizer
// without depending on the tokenizer implementation.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace quantd::engine::tokenizer {

struct TokenizerData {
  enum class Kind { kNone, kTokenizerJson, kGgufBpe };
  Kind kind = Kind::kNone;
  // kTokenizerJson: path of an HF tokenizer.json (BPE or WordPiece).
  std::filesystem::path tokenizer_json;
  // kGgufBpe: tokenizer.ggml.* metadata, read from gguf_path (which only
  // names the file in error messages; it is never opened).
  std::filesystem::path gguf_path;
  std::string model;  // tokenizer.ggml.model, e.g. "gpt2".
  std::string pre;    // tokenizer.ggml.pre, e.g. "smollm".
  std::vector<std::string> tokens;
  std::vector<int32_t> token_types;  // 1 normal, 3 control, 4 user-defined...
  std::vector<std::string> merges;   // "a b" pairs, in rank order.
  int64_t bos_id = -1;
  int64_t eos_id = -1;
  int64_t unk_id = -1;
  int64_t pad_id = -1;
  bool add_bos = false;
  bool add_eos = false;
};

}  // namespace quantd::engine::tokenizer
