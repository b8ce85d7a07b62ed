// Tests of the small text helpers: text_line.h, humanize.h, proto_names.h.
#include "client/quantctl/humanize.h"
#include "client/quantctl/proto_names.h"
#include "client/quantctl/text_line.h"
#include "gtest/gtest.h"

namespace quantd::client {
namespace {

TEST(TextLineTest, SanitizeRemovesControlCharacters) {
  EXPECT_EQ(SanitizeText("a\x1b[2Jb\nc\rd\te\x7f"), "a [2Jb c d e ");
}

TEST(TextLineTest, FitToWidthCutsAtColumns) {
  EXPECT_EQ(FitToWidth("abcdef", 4), "abcd");
  EXPECT_EQ(FitToWidth("ab", 4), "ab");
  EXPECT_EQ(FitToWidth("\xE2\x80\xA6\xE2\x80\xA6z", 2),
            "\xE2\x80\xA6\xE2\x80\xA6");
  EXPECT_EQ(FitToWidth("abc", 0), "");
}

TEST(TextLineTest, BarFillsInProportion) {
  EXPECT_EQ(RenderBar(0, 10), "[          ]");
  EXPECT_EQ(RenderBar(0.5, 10), "[=====>    ]");
  EXPECT_EQ(RenderBar(1, 10), "[==========]");
  EXPECT_EQ(RenderBar(1.7, 4), "[====]");
  EXPECT_EQ(RenderBar(-1, 4), "[    ]");
}

TEST(TextLineTest, QuoteValueQuotesOnlyWhenNeeded) {
  EXPECT_EQ(QuoteValue("plain"), "plain");
  EXPECT_EQ(QuoteValue("two words"), "\"two words\"");
  EXPECT_EQ(QuoteValue("say \"hi\""), "\"say \\\"hi\\\"\"");
  EXPECT_EQ(QuoteValue(""), "\"\"");
  EXPECT_EQ(QuoteValue("a\nb"), "\"a b\"");
}

TEST(HumanizeTest, FormatsBytesDurationsAndPercent) {
  EXPECT_EQ(FormatBytes(512), "512 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(3ull << 30), "3.0 GiB");
  EXPECT_EQ(FormatDuration(4.25), "4.2s");
  EXPECT_EQ(FormatDuration(83.2), "1m23s");
  EXPECT_EQ(FormatDuration(3725), "1h02m");
  EXPECT_EQ(FormatDuration(-1), "?");
  EXPECT_EQ(FormatPercent(0.4), "40%");
  EXPECT_EQ(FormatPercent(0.999), "99%");
}

TEST(HumanizeTest, TimestampsAreRfc3339UtcOrEmpty) {
  google::protobuf::Timestamp time;
  EXPECT_EQ(FormatTimestamp(time), "");
  time.set_seconds(1735812672);
  EXPECT_EQ(FormatTimestamp(time), "2025-01-02T10:11:12Z");
}

TEST(ProtoNamesTest, StatesRoundTripInEveryAcceptedSpelling) {
  EXPECT_EQ(StateName(quantd::v1::JOB_STATE_SUCCEEDED), "SUCCEEDED");
  EXPECT_EQ(*ParseState("running", "--state"), quantd::v1::JOB_STATE_RUNNING);
  EXPECT_EQ(*ParseState("FAILED", "--state"), quantd::v1::JOB_STATE_FAILED);
  EXPECT_EQ(*ParseState("JOB_STATE_QUEUED", "--state"),
            quantd::v1::JOB_STATE_QUEUED);
  EXPECT_EQ(ParseState("done", "--state").status().message(),
            "--state: must be one of {queued, leased, running, succeeded, "
            "failed, cancelled}, got \"done\"");
  EXPECT_TRUE(IsTerminal(quantd::v1::JOB_STATE_CANCELLED));
  EXPECT_FALSE(IsTerminal(quantd::v1::JOB_STATE_LEASED));
}

TEST(ProtoNamesTest, GranularitiesExportsAndCodes) {
  EXPECT_EQ(*ParseGranularity("group", "--w-granularity"),
            quantd::v1::GRANULARITY_PER_GROUP);
  EXPECT_EQ(*ParseGranularity("GRANULARITY_PER_TOKEN", "--a-granularity"),
            quantd::v1::GRANULARITY_PER_TOKEN);
  EXPECT_EQ(GranularityName(quantd::v1::GRANULARITY_PER_CHANNEL), "channel");
  EXPECT_EQ(*ParseExportFormat("hf", "--export"),
            quantd::v1::EXPORT_FORMAT_HF_SAFETENSORS);
  EXPECT_EQ(*ParseExportFormat("EXPORT_FORMAT_PACKED_INT", "--export"),
            quantd::v1::EXPORT_FORMAT_PACKED_INT);
  EXPECT_EQ(*ParseExportFormat("hf_safetensors", "--export"),
            quantd::v1::EXPORT_FORMAT_HF_SAFETENSORS);
  EXPECT_EQ(*ParseExportFormat("compressed-tensors", "--export"),
            quantd::v1::EXPORT_FORMAT_COMPRESSED_TENSORS);
  EXPECT_EQ(*ParseExportFormat("compressed_tensors", "--export"),
            quantd::v1::EXPORT_FORMAT_COMPRESSED_TENSORS);
  EXPECT_EQ(*ParseExportFormat("gguf", "--export"),
            quantd::v1::EXPORT_FORMAT_GGUF);
  EXPECT_EQ(ParseExportFormat("onnx", "--export").status().message(),
            "--export: must be one of {hf, packed, compressed-tensors, gguf}, "
            "got \"onnx\"");
  EXPECT_EQ(ParseExportFormat("EXPORT_FORMAT_UNSPECIFIED", "--export")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ExportFormatName(quantd::v1::EXPORT_FORMAT_COMPRESSED_TENSORS),
            "compressed-tensors");
  EXPECT_EQ(ExportFormatName(quantd::v1::EXPORT_FORMAT_GGUF), "gguf");
  EXPECT_EQ(ExportFormatName(quantd::v1::EXPORT_FORMAT_UNSPECIFIED), "");
  EXPECT_EQ(CodeName(3), "INVALID_ARGUMENT");
  EXPECT_EQ(CodeName(99), "99");
}

}  // namespace
}  // namespace quantd::client
