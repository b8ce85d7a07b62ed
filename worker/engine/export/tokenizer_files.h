// Tokenizer files of an exported model: the source model's tokenizer and
// chat template in Hugging Face layout, so transformers
// (AutoTokenizer.from_pretrained), vLLM and llama.cpp's converter tokenize
// the export exactly as the source model does.
//
//   * An HF-directory source: its tokenizer files (kTokenizerFiles) are
//     copied byte for byte.
//   * A GGUF source: the files are built from its tokenizer.ggml.* metadata
//     (byte-level BPE, tokenizer.ggml.model "gpt2", pre-tokenizer "gpt2",
//     "default" or "smollm", split exactly as the engine's own tokenizer
//     does): tokenizer.json, tokenizer_config.json (with
//     tokenizer.chat_template), special_tokens_map.json and
//     generation_config.json, in the HF `tokenizers` / transformers
//     formats. Other tokenizer kinds (e.g. "llama" SentencePiece) are
//     refused.
//   * Anything else (no such file, a file that is not GGUF, an in-memory
//     test model): no tokenizer to carry, nothing is written.
//
// Every file is written atomically (atomic_file.h) and deterministically
// (same source, same bytes). Stateless functions; safe to call
// concurrently for different output directories.
#pragma once

#include <filesystem>
#include <vector>

#include "worker/engine/export/sharded_writer.h"

namespace quantd::engine::exporting {

// The files copied from an HF source directory, when present, besides
// config.json.
inline constexpr const char* kTokenizerFiles[] = {"tokenizer.json",
                                                  "tokenizer_config.json",
                                                  "special_tokens_map.json",
                                                  "added_tokens.json",
                                                  "tokenizer.model",
                                                  "vocab.txt",
                                                  "vocab.json",
                                                  "merges.txt",
                                                  "chat_template.jinja",
                                                  "chat_template.json",
                                                  "generation_config.json"};

// Throws ExportError, naming the model file and the tokenizer.ggml.* key,
// when WriteTokenizerFiles would fail for `source`'s tokenizer (an
// unsupported kind, inconsistent metadata). Reads only metadata, so an
// exporter can call it before any block work.
void CheckTokenizerExportable(const std::filesystem::path& source);

// Writes the tokenizer files of `source` into `dir` (created if needed);
// returns them with names relative to `dir`, in a fixed order. Throws
// ExportError.
std::vector<ShardFile> WriteTokenizerFiles(const std::filesystem::path& source,
                                           const std::filesystem::path& dir);

}  // namespace quantd::engine::exporting
