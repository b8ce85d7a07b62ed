// Corrupted GGUF files: each defect must raise FormatError naming the file
// and the problem, never crash or read out of bounds (run under ASan in the
// sanitizer build).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "worker/engine/io/format_error.h"
#include "worker/engine/io/gguf_file.h"
#include "worker/engine/io/io_test_util.h"

namespace quantd::engine::io {
namespace {

using testing::Bytes;
using testing::GgufBuilder;
using testing::GgufString;
using ::testing::HasSubstr;
using testing::TempDir;

void ExpectRejected(const std::string& bytes, const std::string& problem) {
  TempDir dir;
  const auto path = dir.Write("broken.gguf", bytes);
  try {
    GgufFile file(path);
    ADD_FAILURE() << "accepted a file that should fail with: " << problem;
  } catch (const FormatError& error) {
    EXPECT_THAT(error.what(), HasSubstr(path.string() + ": "));
    EXPECT_THAT(error.what(), HasSubstr(problem));
  }
}

GgufBuilder ValidBuilder() {
  GgufBuilder builder;
  builder.String("general.architecture", "llama")
      .Tensor("a", {4}, testing::kGgmlF32, testing::Floats({1, 2, 3, 4}))
      .Tensor("b", {2}, testing::kGgmlF32, testing::Floats({5, 6}));
  return builder;
}

TEST(GgufMalformedTest, ValidBuilderOutputIsAccepted) {
  TempDir dir;
  const GgufFile file(dir.Write("ok.gguf", ValidBuilder().Build()));
  EXPECT_EQ(file.tensors().size(), 2u);
  EXPECT_EQ(file.tensors()[1].offset, 32u);  // Aligned to 32.
}

TEST(GgufMalformedTest, EveryTruncationIsRejectedCleanly) {
  const std::string valid = ValidBuilder().Build();
  TempDir dir;
  for (size_t size = 0; size < valid.size(); ++size) {
    const auto path = dir.Write("cut.gguf", valid.substr(0, size));
    EXPECT_THROW(GgufFile file(path), FormatError) << "size " << size;
  }
}

TEST(GgufMalformedTest, RejectsBadMagic) {
  std::string bytes = ValidBuilder().Build();
  bytes[3] = 'L';
  ExpectRejected(bytes, "bad magic 0x4c554747: not a GGUF file");
}

TEST(GgufMalformedTest, RejectsUnsupportedVersions) {
  ExpectRejected(ValidBuilder().Version(1).Build(),
                 "unsupported GGUF version 1 (obsolete");
  ExpectRejected(ValidBuilder().Version(4).Build(),
                 "unsupported GGUF version 4 (supported: 2 and 3)");
  ExpectRejected(ValidBuilder().Version(0x03000000).Build(),
                 "big-endian GGUF files are not supported");
  TempDir dir;
  EXPECT_EQ(GgufFile(dir.Write("v2.gguf", ValidBuilder().Version(2).Build()))
                .version(),
            2u);
}

TEST(GgufMalformedTest, RejectsTruncatedMetadata) {
  const std::string bytes = ValidBuilder().Build();
  // Magic, version and counts (24 bytes), key length (8), key (20), then 2
  // of the 4 bytes of the value type.
  ExpectRejected(
      bytes.substr(0, 54),
      "field 'general.architecture': truncated: reading value type at "
      "offset 52 needs 4 bytes, 2 left");
}

TEST(GgufMalformedTest, RejectsHugeCounts) {
  ExpectRejected(ValidBuilder().MetadataCount(uint64_t{1} << 60).Build(),
                 "metadata count 1152921504606846976 cannot fit");
  ExpectRejected(ValidBuilder().TensorCount(uint64_t{1} << 40).Build(),
                 "tensor count 1099511627776 cannot fit");
}

TEST(GgufMalformedTest, RejectsStringLengthPastTheEnd) {
  const std::string value = Bytes<uint64_t>(1000) + "abc";
  ExpectRejected(GgufBuilder()
                     .KeyValue("general.name", testing::kGgufString, value)
                     .Build(),
                 "field 'general.name': string value length 1000 at offset");
  ExpectRejected(GgufBuilder()
                     .KeyValue("general.name", testing::kGgufString, value)
                     .Build(),
                 "runs past the end of the file");
}

TEST(GgufMalformedTest, RejectsHugeArrays) {
  const std::string value =
      Bytes(testing::kGgufUint32) + Bytes<uint64_t>(uint64_t{1} << 62);
  ExpectRejected(
      GgufBuilder()
          .KeyValue("tokenizer.ggml.token_type", testing::kGgufArray, value)
          .Build(),
      "field 'tokenizer.ggml.token_type': array length 4611686018427387904 of "
      "uint32 cannot fit");
  const std::string nested = Bytes(testing::kGgufArray) + Bytes<uint64_t>(1);
  ExpectRejected(
      GgufBuilder().KeyValue("x", testing::kGgufArray, nested).Build(),
      "field 'x': nested arrays are not supported");
}

TEST(GgufMalformedTest, RejectsBadValues) {
  ExpectRejected(GgufBuilder().KeyValue("x", 99, Bytes<uint32_t>(0)).Build(),
                 "field 'x': unknown value type 99");
  ExpectRejected(GgufBuilder()
                     .KeyValue("x", testing::kGgufBool, Bytes<uint8_t>(2))
                     .Build(),
                 "field 'x': bool value 2 is neither 0 nor 1");
  ExpectRejected(GgufBuilder().Uint32("x", 1).Uint32("x", 2).Build(),
                 "field 'x': duplicate metadata key");
}

TEST(GgufMalformedTest, RejectsBadAlignment) {
  ExpectRejected(ValidBuilder().Uint32("general.alignment", 24).Build(),
                 "field 'general.alignment': 24 is not a power of two");
  ExpectRejected(
      ValidBuilder().Float32("general.alignment", 32).Build(),
      "field 'general.alignment': wrong type: expected uint32, got float32");
}

TEST(GgufMalformedTest, RejectsMisalignedTensorOffset) {
  ExpectRejected(
      GgufBuilder()
          .Tensor("a", {4}, testing::kGgmlF32, testing::Floats({1, 2, 3, 4}), 4)
          .Build(),
      "tensor 'a': offset 4 is not a multiple of the alignment 32");
  // With general.alignment 4 the same offset is fine.
  TempDir dir;
  const std::string ok =
      GgufBuilder()
          .Alignment(4)
          .Tensor("a", {1}, testing::kGgmlF32, testing::Floats({1, 2}), 4)
          .Build();
  EXPECT_NO_THROW(GgufFile(dir.Write("ok.gguf", ok)));
}

TEST(GgufMalformedTest, RejectsOffsetsOutOfRange) {
  ExpectRejected(GgufBuilder()
                     .Tensor("a", {4}, testing::kGgmlF32,
                             testing::Floats({1, 2, 3, 4}), uint64_t{1} << 20)
                     .Build(),
                 "tensor 'a': data at offset 1048576 (16 bytes) runs past the "
                 "end of the data "
                 "section (16 bytes)");
  ExpectRejected(GgufBuilder()
                     .Tensor("a", {4}, testing::kGgmlF32,
                             testing::Floats({1, 2, 3, 4}), ~uint64_t{0} - 31)
                     .Build(),
                 "runs past the end of the data section");
  // Data section cut short.
  const std::string bytes = ValidBuilder().Build();
  ExpectRejected(bytes.substr(0, bytes.size() - 4),
                 "tensor 'b': data at offset 32");
}

TEST(GgufMalformedTest, RejectsOverlappingTensors) {
  ExpectRejected(GgufBuilder()
                     .Tensor("a", {8}, testing::kGgmlF32,
                             testing::Floats({1, 2, 3, 4, 5, 6, 7, 8}))
                     .Tensor("b", {4}, testing::kGgmlF32, "", 0)
                     .Build(),
                 "data overlaps tensor");
}

TEST(GgufMalformedTest, RejectsUnknownAndUnsupportedTensorTypes) {
  ExpectRejected(
      GgufBuilder().Tensor("a", {32}, 77, std::string(64, '\0')).Build(),
      "tensor 'a': unknown tensor type 77");
  ExpectRejected(
      GgufBuilder().Tensor("a", {256}, 13, std::string(176, '\0')).Build(),
      "tensor 'a': unsupported tensor type Q5_K (13)");
}

TEST(GgufMalformedTest, RejectsBadDimensions) {
  ExpectRejected(GgufBuilder()
                     .Tensor("a", {1, 1, 1, 1, 1}, testing::kGgmlF32, "0000")
                     .Build(),
                 "tensor 'a': n_dims 5 is not in 1..4");
  ExpectRejected(GgufBuilder()
                     .Tensor("a", {int64_t{1} << 32, int64_t{1} << 32},
                             testing::kGgmlF32, "")
                     .Build(),
                 "tensor 'a': element count overflows");
  ExpectRejected(GgufBuilder().Tensor("a", {-4}, testing::kGgmlF32, "").Build(),
                 "tensor 'a': dimension 0 is negative (-4)");
  ExpectRejected(
      GgufBuilder()
          .Tensor("a", {16}, testing::kGgmlQ8_0, std::string(17, '\0'))
          .Build(),
      "tensor 'a': row length 16 is not a multiple of the block size 32 of "
      "Q8_0");
  ExpectRejected(GgufBuilder()
                     .Tensor("a", {int64_t{1} << 62}, testing::kGgmlF32, "")
                     .Build(),
                 "tensor 'a': byte size overflows");
}

TEST(GgufMalformedTest, RejectsDuplicateTensorNames) {
  ExpectRejected(GgufBuilder()
                     .Tensor("a", {1}, testing::kGgmlF32, testing::Floats({1}))
                     .Tensor("a", {1}, testing::kGgmlF32, testing::Floats({2}))
                     .Build(),
                 "tensor 'a': duplicate tensor name");
}

}  // namespace
}  // namespace quantd::engine::io
