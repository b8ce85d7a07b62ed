// Fuzz target: the one GGUF header reader (contract/gguf_header.h:
// ParseGgufHeader, GgufMetadata's values and typed getters over ByteCursor)
// as quantd and the engine's GgufFile run it, then the GGUF BPE tokenizer
// built from tokenizer.ggml.* as gguf_config.cc builds it. GgufFile itself
// cannot be linked without LibTorch (its tensors are at::Tensor), so the
// tensor-info section and ConfigFromGguf are not covered here.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>

#include "contract/byte_cursor.h"
#include "contract/format_error.h"
#include "contract/gguf_header.h"
#include "worker/engine/tokenizer/tokenizer.h"

namespace {

namespace io = quantd::contract;
namespace tok = quantd::engine::tokenizer;

io::GgufMetadata ReadHeader(std::span<const std::byte> bytes) {
  io::internal::ByteCursor cursor(bytes, "model.gguf");
  return io::ParseGgufHeader(cursor).metadata;
}

// An id in [0, size) or -1, as gguf_config.cc accepts them.
int64_t TokenId(const io::GgufMetadata& metadata, const char* key,
                size_t size) {
  const int64_t id = metadata.FindInt(key).value_or(-1);
  return id >= 0 && static_cast<uint64_t>(id) < size ? id : -1;
}

void BuildTokenizer(const io::GgufMetadata& metadata) {
  tok::TokenizerData data;
  data.kind = tok::TokenizerData::Kind::kGgufBpe;
  data.gguf_path = "model.gguf";
  data.model = metadata.GetString("tokenizer.ggml.model");
  data.pre = metadata.FindString("tokenizer.ggml.pre").value_or("default");
  data.tokens = metadata.GetStringArray("tokenizer.ggml.tokens");
  if (data.tokens.empty()) return;
  if (metadata.Contains("tokenizer.ggml.token_type")) {
    for (int64_t type : metadata.GetIntArray("tokenizer.ggml.token_type")) {
      if (type < 0 || type > 6) return;
      data.token_types.push_back(static_cast<int32_t>(type));
    }
    if (data.token_types.size() != data.tokens.size()) return;
  }
  if (metadata.Contains("tokenizer.ggml.merges")) {
    data.merges = metadata.GetStringArray("tokenizer.ggml.merges");
  }
  const size_t size = data.tokens.size();
  data.bos_id = TokenId(metadata, "tokenizer.ggml.bos_token_id", size);
  data.eos_id = TokenId(metadata, "tokenizer.ggml.eos_token_id", size);
  data.unk_id = TokenId(metadata, "tokenizer.ggml.unknown_token_id", size);
  data.add_bos =
      metadata.FindBool("tokenizer.ggml.add_bos_token").value_or(false);
  const auto tokenizer = tok::MakeTokenizer(data);
  const auto ids =
      tokenizer->Encode("Hello world! <|im_end|> 123 \xc3\xa9", true);
  (void)tokenizer->Decode(ids);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const io::GgufMetadata metadata =
        ReadHeader(std::as_bytes(std::span<const uint8_t>(data, size)));
    if (const auto arch = metadata.FindString("general.architecture")) {
      (void)metadata.FindInt(*arch + ".block_count");
      (void)metadata.FindFloat(*arch + ".attention.layer_norm_rms_epsilon");
    }
    if (metadata.Contains("tokenizer.ggml.model")) BuildTokenizer(metadata);
  } catch (const io::FormatError&) {
    // A malformed header or a key of the wrong type.
  } catch (const tok::TokenizerError&) {
    // A vocabulary the tokenizer refuses.
  }
  return 0;
}
