#include "worker/engine/io/safetensors_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "worker/engine/io/format_error.h"
#include "worker/engine/io/io_test_util.h"

namespace quantd::engine::io {
namespace {

using testing::Bytes;
using testing::Floats;
using ::testing::HasSubstr;
using testing::SafetensorsBuilder;
using testing::SafetensorsBytes;
using testing::TempDir;

std::vector<float> Values(const at::Tensor& tensor) {
  const at::Tensor flat = tensor.contiguous().view(-1);
  return {flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel()};
}

// Opening `bytes` as a .safetensors file fails with a message naming the
// file and containing `problem`.
void ExpectRejected(std::string_view bytes, const std::string& problem) {
  TempDir dir;
  const auto path = dir.Write("broken.safetensors", bytes);
  try {
    SafetensorsReader::OpenFile(path);
    ADD_FAILURE() << "accepted a file that should fail with: " << problem;
  } catch (const FormatError& error) {
    EXPECT_THAT(error.what(), HasSubstr(path.string() + ": "));
    EXPECT_THAT(error.what(), HasSubstr(problem));
  }
}

TEST(SafetensorsReaderTest, DecodesEveryDtypeToFloat) {
  std::string f16, bf16;
  for (uint16_t bits : {0x3C00, 0xC000, 0x3800}) f16 += Bytes(bits);  // 1 -2 .5
  for (uint16_t bits : {0x3F80, 0xC040, 0x4120})
    bf16 += Bytes(bits);  // 1 -3 10
  std::string i16 = Bytes<int16_t>(-300) + Bytes<int16_t>(7);
  std::string i64 = Bytes<int64_t>(-5) + Bytes<int64_t>(1LL << 40);
  std::string f64 = Bytes(0.125) + Bytes(-2.5);
  SafetensorsBuilder builder;
  builder.Add("f32", "F32", {2, 2}, Floats({1, 2, 3, 4}))
      .Add("f16", "F16", {3}, f16)
      .Add("bf16", "BF16", {3}, bf16)
      .Add("f64", "F64", {2}, f64)
      .Add("i8", "I8", {2}, std::string("\xFF\x05", 2))
      .Add("u8", "U8", {2}, std::string("\xFF\x05", 2))
      .Add("i16", "I16", {2}, i16)
      .Add("i32", "I32", {1}, Bytes<int32_t>(-70000))
      .Add("i64", "I64", {2}, i64)
      .Add("bool", "BOOL", {3}, std::string("\x00\x01\x02", 3))
      .Add("empty", "F32", {0, 4}, "");
  TempDir dir;
  auto reader =
      SafetensorsReader::OpenFile(dir.Write("m.safetensors", builder.Build()));
  ASSERT_EQ(reader->Tensors().size(), 11u);
  EXPECT_EQ(reader->Tensors()[0].name, "f32");  // File order.
  EXPECT_EQ(Values(reader->LoadFloat("f32")), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(reader->LoadFloat("f32").sizes(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(Values(reader->LoadFloat("f16")), (std::vector<float>{1, -2, 0.5}));
  EXPECT_EQ(Values(reader->LoadFloat("bf16")), (std::vector<float>{1, -3, 10}));
  EXPECT_EQ(Values(reader->LoadFloat("f64")),
            (std::vector<float>{0.125, -2.5}));
  EXPECT_EQ(Values(reader->LoadFloat("i8")), (std::vector<float>{-1, 5}));
  EXPECT_EQ(Values(reader->LoadFloat("u8")), (std::vector<float>{255, 5}));
  EXPECT_EQ(Values(reader->LoadFloat("i16")), (std::vector<float>{-300, 7}));
  EXPECT_EQ(Values(reader->LoadFloat("i32")), (std::vector<float>{-70000}));
  EXPECT_EQ(Values(reader->LoadFloat("i64")),
            (std::vector<float>{-5, static_cast<float>(1LL << 40)}));
  EXPECT_EQ(Values(reader->LoadFloat("bool")), (std::vector<float>{0, 1, 1}));
  EXPECT_EQ(reader->LoadFloat("empty").sizes(), (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(reader->Tensors()[1].storage, StorageType::kF16);
  EXPECT_EQ(reader->RawBytes("i32").size(), 4u);
}

TEST(SafetensorsReaderTest, MetadataIsAllowedAndUnknownNamesFail) {
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  TempDir dir;
  auto reader = SafetensorsReader::OpenFile(
      dir.Write("m.safetensors", SafetensorsBytes(header, Floats({7}))));
  EXPECT_TRUE(reader->Contains("w"));
  EXPECT_FALSE(reader->Contains("__metadata__"));
  try {
    reader->LoadFloat("missing");
    FAIL();
  } catch (const FormatError& error) {
    EXPECT_THAT(error.what(), HasSubstr("tensor 'missing': no such tensor"));
    EXPECT_EQ(error.subject(), FormatError::Subject::kTensor);
  }
}

TEST(SafetensorsReaderTest, RejectsTruncatedFile) {
  ExpectRejected("abc", "truncated: 3 bytes");
}

TEST(SafetensorsReaderTest, RejectsHeaderLengthPastTheEnd) {
  ExpectRejected(Bytes<uint64_t>(1000) + "{}",
                 "header length 1000 runs past the end");
  ExpectRejected(Bytes<uint64_t>(~0ull) + "{}", "runs past the end");
}

TEST(SafetensorsReaderTest, RejectsMalformedJson) {
  ExpectRejected(SafetensorsBytes(R"({"w": {"dtype": )", ""),
                 "header is not valid JSON");
  ExpectRejected(SafetensorsBytes("[1, 2]", ""), "header is not a JSON object");
  ExpectRejected(SafetensorsBytes(R"({"w": 5})", ""),
                 "tensor 'w': header entry must be an object, got integer");
}

TEST(SafetensorsReaderTest, RejectsUnknownDtype) {
  ExpectRejected(
      SafetensorsBytes(
          R"({"w":{"dtype":"F12","shape":[1],"data_offsets":[0,4]}})",
          Floats({1})),
      "tensor 'w': unsupported dtype 'F12'");
}

TEST(SafetensorsReaderTest, RejectsBadShapes) {
  ExpectRejected(
      SafetensorsBytes(
          R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})",
          Floats({1})),
      "shape[0] = -1 is not a non-negative integer");
  ExpectRejected(
      SafetensorsBytes(
          R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})",
          Floats({1})),
      "shape product overflows");
  ExpectRejected(
      SafetensorsBytes(
          R"({"w":{"dtype":"F32","shape":[2147483648,2147483648],"data_offsets":[0,4]}})",
          Floats({1})),
      "byte size overflows");
}

TEST(SafetensorsReaderTest, RejectsShapeByteMismatch) {
  ExpectRejected(
      SafetensorsBytes(
          R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})",
          Floats({1, 2})),
      "data_offsets span 8 bytes but dtype and shape need 12");
}

TEST(SafetensorsReaderTest, RejectsBadOffsets) {
  ExpectRejected(
      SafetensorsBytes(
          R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})",
          Floats({1, 2})),
      "end before they begin");
  ExpectRejected(SafetensorsBytes(
                     R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}})",
                     Floats({1})),
                 "data_offsets is not a [begin, end] pair");
  ExpectRejected(
      SafetensorsBytes(
          R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
          Floats({1, 2})),
      "run past the data section (8 bytes)");
}

TEST(SafetensorsReaderTest, RejectsOverlappingTensors) {
  ExpectRejected(
      SafetensorsBytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
                           "b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                       Floats({1, 2, 3})),
      "tensor 'b': data overlaps tensor 'a'");
}

TEST(SafetensorsReaderTest, RejectsDuplicateTensor) {
  ExpectRejected(
      SafetensorsBytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},
                           "a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                       Floats({1, 2})),
      "tensor 'a': duplicate tensor name");
}

class ShardedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.Write(
        "model-00001-of-00002.safetensors",
        SafetensorsBuilder().Add("a", "F32", {2}, Floats({1, 2})).Build());
    dir_.Write("model-00002-of-00002.safetensors",
               SafetensorsBuilder()
                   .Add("b", "F32", {1}, Floats({3}))
                   .Add("c", "F32", {1}, Floats({4}))
                   .Build());
  }
  std::filesystem::path Index(const std::string& weight_map) {
    return dir_.Write("model.safetensors.index.json",
                      R"({"metadata":{},"weight_map":)" + weight_map + "}");
  }
  void ExpectIndexRejected(const std::string& weight_map,
                           const std::string& problem) {
    const auto index = Index(weight_map);
    try {
      SafetensorsReader::OpenIndex(index);
      ADD_FAILURE() << "accepted: " << weight_map;
    } catch (const FormatError& error) {
      EXPECT_THAT(error.what(), HasSubstr(index.string() + ": "));
      EXPECT_THAT(error.what(), HasSubstr(problem));
    }
  }
  TempDir dir_;
};

TEST_F(ShardedTest, LoadsTensorsFromTheirShards) {
  auto reader = SafetensorsReader::OpenIndex(Index(
      R"({"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors",
          "c":"model-00002-of-00002.safetensors"})"));
  ASSERT_EQ(reader->Tensors().size(), 3u);
  EXPECT_EQ(Values(reader->LoadFloat("a")), (std::vector<float>{1, 2}));
  EXPECT_EQ(Values(reader->LoadFloat("c")), (std::vector<float>{4}));
  EXPECT_EQ(reader->FileOf("b").filename(), "model-00002-of-00002.safetensors");
  EXPECT_THAT(reader->Describe(), HasSubstr("(2 shards)"));
}

TEST_F(ShardedTest, RejectsTensorMissingFromItsShard) {
  ExpectIndexRejected(
      R"({"a":"model-00001-of-00002.safetensors",
                          "b":"model-00001-of-00002.safetensors"})",
      "tensor 'b': missing from its shard 'model-00001-of-00002.safetensors'");
}

TEST_F(ShardedTest, RejectsMissingShardAndUnsafeNames) {
  ExpectIndexRejected(
      R"({"a":"model-00009-of-00009.safetensors"})",
      "shard 'model-00009-of-00009.safetensors' does not exist");
  ExpectIndexRejected(R"({"a":"../model-00001-of-00002.safetensors"})",
                      "is not a plain file name");
  ExpectIndexRejected(R"({"a":7})", "weight_map value is not a string");
  ExpectIndexRejected("[]", "field 'weight_map': is not a non-empty object");
}

}  // namespace
}  // namespace quantd::engine::io
