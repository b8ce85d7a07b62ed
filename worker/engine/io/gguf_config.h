// ModelConfig and TokenizerData from the metadata of a llama-architecture
// GGUF file (llama.* hyper-parameters, tokenizer.ggml.* vocabulary), with
// every value checked for presence, type and range and cross-checked
// against the stored tensors.
#pragma once

#include "worker/engine/io/gguf_file.h"
#include "worker/engine/io/model_config.h"
#include "worker/engine/tokenizer/tokenizer_data.h"

namespace quantd::engine::io {

// Throws FormatError naming the file and the key (or tensor).
ModelConfig ConfigFromGguf(const GgufFile& file);

// kind = kGgufBpe with tokenizer.ggml.* copied over; `model` tells which
// tokenizer (gpt2 = byte-level BPE, llama = SentencePiece). Throws
// FormatError when the vocabulary is missing or inconsistent.
tokenizer::TokenizerData TokenizerFromGguf(const GgufFile& file);

}  // namespace quantd::engine::io
