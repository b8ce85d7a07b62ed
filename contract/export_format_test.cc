#include "contract/export_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "contract/contract_error.h"

namespace quantd::contract {
namespace {

using ::testing::HasSubstr;

const ModelFacts kSmolGguf{"llama", true, true};
const ModelFacts kSmolDir{"llama", true, false};
const ModelFacts kMiniLm{"bert", false, false};

// The refusal message, or "" when the format holds the preset.
std::string Refusal(ExportFormat format, std::string_view preset_name,
                    const ModelFacts& model = kSmolGguf) {
  const SchemePreset preset = ParseSchemePreset(preset_name);
  try {
    CheckExportable(format, preset.name, preset.weights, preset.activations,
                    model);
  } catch (const ContractError& error) {
    EXPECT_EQ(error.field(), "export_formats");
    return error.what();
  }
  return "";
}

TEST(ExportFormatTest, NamesRoundTrip) {
  for (const ExportFormatInfo& info : ExportFormats()) {
    EXPECT_EQ(ParseExportFormat(info.proto_name), info.format);
    EXPECT_EQ(ParseExportFormat(info.cli_name), info.format);
    EXPECT_EQ(&InfoOf(info.format), &info);
  }
  EXPECT_EQ(ParseExportFormat("compressed_tensors"),
            ExportFormat::kCompressedTensors);
  EXPECT_EQ(ParseExportFormat("PACKED_INT"), ExportFormat::kPackedInt);
  EXPECT_EQ(ParseExportFormat("onnx"), std::nullopt);
  EXPECT_EQ(ExportFormatCliNames(), "hf, packed, compressed-tensors, gguf");
}

TEST(ExportFormatTest, OwnFormatsHoldEverything) {
  for (const char* preset : {"w6a6", "w4a4-g128", "w2a16", "w8a8-pt"}) {
    EXPECT_EQ(Refusal(ExportFormat::kHfSafetensors, preset, kMiniLm), "");
    EXPECT_EQ(Refusal(ExportFormat::kPackedInt, preset, kMiniLm), "");
  }
}

TEST(ExportFormatTest, CompressedTensorsHoldsWhatVllmServes) {
  for (const char* preset :
       {"w8a8", "w8a8-pt", "w4a16", "w4a16-g64", "w8a16-g128"}) {
    EXPECT_EQ(Refusal(ExportFormat::kCompressedTensors, preset, kSmolDir), "")
        << preset;
  }
  const SchemePreset w8a8 = ParseSchemePreset("w8a8");
  EXPECT_EQ(CompressedTensorsFormatFor(w8a8.activations),
            CompressedTensorsFormat::kIntQuantized);
  const SchemePreset w4a16 = ParseSchemePreset("w4a16-g64");
  EXPECT_EQ(CompressedTensorsFormatFor(w4a16.activations),
            CompressedTensorsFormat::kPackQuantized);
}

TEST(ExportFormatTest, CompressedTensorsRefusesWhatNoKernelServes) {
  const std::string w6a6 = Refusal(ExportFormat::kCompressedTensors, "w6a6");
  EXPECT_THAT(w6a6, HasSubstr("compressed-tensors"));
  EXPECT_THAT(w6a6, HasSubstr("'w6a6'"));
  EXPECT_THAT(w6a6, HasSubstr("W6A6"));
  EXPECT_THAT(Refusal(ExportFormat::kCompressedTensors, "w4a4"),
              HasSubstr("W4A4"));
  EXPECT_THAT(Refusal(ExportFormat::kCompressedTensors, "w3a16-g64"),
              HasSubstr("W3A16"));
  EXPECT_THAT(Refusal(ExportFormat::kCompressedTensors, "w8a8-g64"),
              HasSubstr("per-group"));
  EXPECT_THAT(Refusal(ExportFormat::kCompressedTensors, "w8a8", kMiniLm),
              HasSubstr("bert"));
}

TEST(ExportFormatTest, GgufHoldsExactBlockGrids) {
  SchemePreset preset = ParseSchemePreset("w4a16-g32");
  EXPECT_EQ(Refusal(ExportFormat::kGguf, "w4a16-g32"), "");
  EXPECT_EQ(GgufTypeFor(preset.weights), GgufType::kQ4_1);
  preset.weights.symmetric = true;
  EXPECT_EQ(GgufTypeFor(preset.weights), GgufType::kQ4_0);
  preset = ParseSchemePreset("w8a16-g32");
  preset.weights.symmetric = true;
  EXPECT_NO_THROW(CheckExportable(ExportFormat::kGguf, "w8a16-g32",
                                  preset.weights, preset.activations,
                                  kSmolGguf));
  EXPECT_EQ(GgufTypeFor(preset.weights), GgufType::kQ8_0);
  EXPECT_STREQ(GgufTypeName(GgufType::kQ8_0), "Q8_0");
}

TEST(ExportFormatTest, GgufRefusesWithTheReason) {
  EXPECT_THAT(Refusal(ExportFormat::kGguf, "w8a16-g32"),
              HasSubstr("symmetric"));
  EXPECT_THAT(Refusal(ExportFormat::kGguf, "w4a16-g64"), HasSubstr("-g32"));
  EXPECT_THAT(Refusal(ExportFormat::kGguf, "w4a16"), HasSubstr("-g32"));
  EXPECT_THAT(Refusal(ExportFormat::kGguf, "w8a8"), HasSubstr("weight-only"));
  EXPECT_THAT(Refusal(ExportFormat::kGguf, "w3a16-g32"), HasSubstr("3-bit"));
  EXPECT_THAT(Refusal(ExportFormat::kGguf, "w4a16-g32", kSmolDir),
              HasSubstr("HF directory"));
}

}  // namespace
}  // namespace quantd::contract
