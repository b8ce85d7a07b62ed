#include "worker/engine/tokenizer/tokenizer.h"

#include "worker/engine/tokenizer/bpe_tokenizer.h"
#include "worker/engine/tokenizer/tokenizer_json.h"
#include "worker/engine/tokenizer/wordpiece_tokenizer.h"

namespace quantd::engine::tokenizer {

std::unique_ptr<Tokenizer> MakeTokenizer(const TokenizerData& data) {
  switch (data.kind) {
    case TokenizerData::Kind::kGgufBpe:
      return internal::MakeBpeFromGguf(data);
    case TokenizerData::Kind::kTokenizerJson: {
      const internal::JsonFile file =
          internal::JsonFile::Load(data.tokenizer_json);
      const nlohmann::json& model = file.Require(file.root(), "", "model");
      // Files written by older tokenizers versions omit model.type.
      const nlohmann::json* type_node = file.Optional(model, "type");
      const std::string type =
          type_node ? file.String(*type_node, "model.type") : "";
      if (type == "BPE") {
        return internal::MakeBpeFromJson(file, data);
      }
      if (type == "WordPiece") {
        return internal::MakeWordPieceFromJson(file, data);
      }
      file.Fail("model.type",
                "'" + type + "' is not supported (BPE or WordPiece)");
    }
    case TokenizerData::Kind::kNone:
      break;
  }
  throw TokenizerError("the model describes no tokenizer");
}

}  // namespace quantd::engine::tokenizer
