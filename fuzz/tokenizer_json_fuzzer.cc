// Fuzz target: the engine's HF tokenizer.json loader (MakeTokenizer with a
// tokenizer.json, worker/engine/tokenizer/), byte-level BPE and WordPiece,
// then an encode/decode of a fixed text with the tokenizer it accepted. It
// may only throw TokenizerError; every id it encodes lies in the
// vocabulary.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz/fuzz_scratch.h"
#include "worker/engine/tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace tok = quantd::engine::tokenizer;
  static const quantd::fuzz::ScratchDir scratch;
  tok::TokenizerData description;
  description.kind = tok::TokenizerData::Kind::kTokenizerJson;
  description.tokenizer_json = scratch.Write("tokenizer.json", data, size);
  try {
    const auto tokenizer = tok::MakeTokenizer(description);
    const auto ids = tokenizer->Encode(
        "Hello, world! [SEP] caf\xc3\xa9 na\xc3\xafve 12345 \xf0\x9f\x99\x82 "
        "<s>",
        true);
    for (int32_t id : ids) {
      if (id < 0 || id >= tokenizer->VocabSize()) std::abort();
    }
    (void)tokenizer->Decode(ids, /*skip_special=*/true);
  } catch (const tok::TokenizerError&) {
    // The expected outcome for a bad or unsupported tokenizer.json.
  }
  return 0;
}
