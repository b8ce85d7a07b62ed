#include "worker/engine/export/safetensors_writer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "contract/sha256.h"
#include "worker/engine/export/export_error.h"
#include "worker/engine/export/export_test_util.h"
#include "worker/engine/export/sharded_writer.h"
#include "worker/engine/io/safetensors_reader.h"

namespace quantd::engine::exporting {
namespace {

namespace fs = std::filesystem;
using Named = std::vector<std::pair<std::string, at::Tensor>>;

class SafetensorsWriterTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::ScratchDir("writer"); }
  void TearDown() override { testing::RemoveScratch(dir_); }

  // One tensor of every dtype the exporter writes, plus a scalar.
  static Named AllDtypes() {
    at::manual_seed(3);
    return {{"f32", at::randn({3, 5})},
            {"f16", at::randn({4}).to(at::kHalf)},
            {"bf16", at::randn({2, 2}).to(at::kBFloat16)},
            {"i8", at::randint(-128, 128, {7}, at::kChar)},
            {"u8", at::randint(0, 256, {3, 3}, at::kByte)},
            {"i32", at::randint(-1000, 1000, {5}, at::kInt)},
            {"i64", at::randint(-1000, 1000, {2, 1}, at::kLong)},
            {"scalar", at::scalar_tensor(1.5, at::kFloat)}};
  }

  static nlohmann::json Header(const std::string& bytes) {
    uint64_t length = 0;
    std::memcpy(&length, bytes.data(), 8);
    return nlohmann::json::parse(bytes.substr(8, length));
  }

  // Files in `dir` (default dir_), to catch leftover temporaries.
  std::vector<std::string> Entries(const fs::path& dir = {}) const {
    std::vector<std::string> names;
    std::error_code error;
    for (const auto& entry :
         fs::directory_iterator(dir.empty() ? dir_ : dir, error)) {
      names.push_back(entry.path().filename().string());
    }
    return names;
  }

  fs::path dir_;
};

TEST_F(SafetensorsWriterTest, RoundTripsEveryDtypeThroughTheIoReader) {
  const Named tensors = AllDtypes();
  const fs::path path = dir_ / "all.safetensors";
  WrittenFile written = WriteSafetensors(path, tensors, {{"format", "pt"}});
  EXPECT_EQ(written.sha256, contract::Sha256FileHex(path));
  EXPECT_EQ(written.size_bytes, fs::file_size(path));

  auto reader = io::SafetensorsReader::OpenFile(path);
  ASSERT_EQ(reader->Tensors().size(), tensors.size());
  for (const auto& [name, tensor] : tensors) {
    std::span<const std::byte> raw = reader->RawBytes(name);
    ASSERT_EQ(raw.size(), tensor.numel() * tensor.element_size()) << name;
    EXPECT_EQ(
        std::memcmp(raw.data(), tensor.contiguous().data_ptr(), raw.size()), 0)
        << name;
    EXPECT_TRUE(at::equal(reader->LoadFloat(name), tensor.to(at::kFloat)))
        << name;
  }
  EXPECT_EQ(Header(testing::ReadFile(path))["__metadata__"]["format"], "pt");
}

TEST_F(SafetensorsWriterTest, HeaderIsPaddedToEightBytesAndDataIsNameOrdered) {
  const fs::path path = dir_ / "a.safetensors";
  WriteSafetensors(path, AllDtypes());
  const std::string bytes = testing::ReadFile(path);
  uint64_t length = 0;
  std::memcpy(&length, bytes.data(), 8);
  EXPECT_EQ(length % 8, 0u);
  nlohmann::json header = Header(bytes);
  uint64_t previous_end = 0;
  std::string previous_name;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;
    EXPECT_LT(previous_name, name);
    EXPECT_EQ(entry["data_offsets"][0].get<uint64_t>(), previous_end) << name;
    previous_end = entry["data_offsets"][1].get<uint64_t>();
    previous_name = name;
  }
  EXPECT_EQ(8 + length + previous_end, bytes.size());
}

TEST_F(SafetensorsWriterTest, SameTensorsGiveIdenticalBytesInAnyInputOrder) {
  Named tensors = AllDtypes();
  WrittenFile first = WriteSafetensors(dir_ / "1.safetensors", tensors,
                                       {{"b", "2"}, {"a", "1"}});
  std::reverse(tensors.begin(), tensors.end());
  WrittenFile second = WriteSafetensors(dir_ / "2.safetensors", tensors,
                                        {{"a", "1"}, {"b", "2"}});
  EXPECT_EQ(first.sha256, second.sha256);
  EXPECT_EQ(testing::ReadFile(first.path), testing::ReadFile(second.path));
}

TEST_F(SafetensorsWriterTest, WriterDestroyedBeforeCommitLeavesNoFile) {
  const fs::path path = dir_ / "model.safetensors";
  {
    SafetensorsWriter writer(
        path, {LayoutOf("a", at::ones({4})), LayoutOf("b", at::ones({4}))}, {});
    at::Tensor a = at::ones({4});
    writer.WriteTensor("a", TensorBytes(a));
    EXPECT_FALSE(fs::exists(path));
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(Entries().empty());
}

TEST_F(SafetensorsWriterTest, AbandonedRewriteKeepsThePreviousFile) {
  const fs::path path = dir_ / "model.safetensors";
  WriteSafetensors(path, {{"x", at::zeros({2})}});
  const std::string before = testing::ReadFile(path);
  { SafetensorsWriter writer(path, {LayoutOf("x", at::ones({2}))}, {}); }
  EXPECT_EQ(testing::ReadFile(path), before);
  EXPECT_EQ(Entries().size(), 1u);
}

TEST_F(SafetensorsWriterTest, RejectsMisuseWithoutLeavingFiles) {
  const fs::path path = dir_ / "bad.safetensors";
  EXPECT_THROW(
      WriteSafetensors(path, {{"x", at::ones({1})}, {"x", at::ones({1})}}),
      ExportError);
  EXPECT_THROW(WriteSafetensors(path, {{"", at::ones({1})}}), ExportError);
  EXPECT_THROW(WriteSafetensors(path, {{"__metadata__", at::ones({1})}}),
               ExportError);
  EXPECT_THROW(
      WriteSafetensors(path, {{"c", at::ones({1}, at::kComplexFloat)}}),
      ExportError);
  {
    SafetensorsWriter writer(
        path, {LayoutOf("a", at::ones({2})), LayoutOf("b", at::ones({2}))}, {});
    at::Tensor two = at::ones({2}), three = at::ones({3});
    EXPECT_THROW(writer.WriteTensor("b", TensorBytes(two)), ExportError);
    EXPECT_THROW(writer.WriteTensor("a", TensorBytes(three)), ExportError);
    writer.WriteTensor("a", TensorBytes(two));
    EXPECT_THROW(writer.Commit(), ExportError);
  }
  TensorLayout wrong = LayoutOf("w", at::ones({2}));
  wrong.size_bytes = 7;
  EXPECT_THROW(SafetensorsWriter(path, {wrong}, {}), ExportError);
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(Entries().empty());
}

TEST_F(SafetensorsWriterTest, ShardedWriterSplitsGroupsIntoIndexedShards) {
  at::manual_seed(5);
  Named block0 = {{"layers.0.w", at::randn({64})},
                  {"layers.0.b", at::randn({8})}};
  Named block1 = {{"layers.1.w", at::randn({64})},
                  {"layers.1.b", at::randn({8})}};
  Named resident = {{"embed", at::randn({40})}};
  {
    ShardedSafetensorsWriter writer(dir_ / "out", "model", 300,
                                    {{"format", "pt"}});
    writer.AddGroup(block1);
    // 288 bytes are written as soon as the next group would pass 300.
    writer.AddGroup(resident);
    EXPECT_EQ(Entries(dir_ / "out").size(), 1u);
    writer.AddGroup(block0);
    EXPECT_THROW(writer.AddGroup({{"embed", at::ones({1})}}), ExportError);
    EXPECT_THROW(writer.AddGroup({{"x", at::ones({1})}, {"x", at::ones({1})}}),
                 ExportError);
    // Groups in arrival order, never split: [layers.1 (288)], [embed
    // (160)], [layers.0 (288)].
    std::vector<ShardFile> files = writer.Finish();
    ASSERT_EQ(files.size(), 4u);
    EXPECT_EQ(files[0].name, "model-00001-of-00003.safetensors");
    EXPECT_EQ(files[3].name, "model.safetensors.index.json");
    for (const ShardFile& file : files) {
      EXPECT_EQ(file.file.path, dir_ / "out" / file.name);
      EXPECT_EQ(file.file.sha256, contract::Sha256FileHex(file.file.path));
    }
  }
  // Only the named files: no provisional shard is left.
  EXPECT_EQ(Entries(dir_ / "out").size(), 4u);
  nlohmann::json index = nlohmann::json::parse(
      testing::ReadFile(dir_ / "out/model.safetensors.index.json"));
  EXPECT_EQ(index["metadata"]["total_size"], (64 + 8 + 64 + 8 + 40) * 4);
  EXPECT_EQ(index["weight_map"]["embed"], "model-00002-of-00003.safetensors");
  EXPECT_EQ(index["weight_map"]["layers.0.w"],
            "model-00003-of-00003.safetensors");
  auto reader = io::SafetensorsReader::OpenIndex(
      dir_ / "out/model.safetensors.index.json");
  for (const Named* group : {&block0, &block1, &resident}) {
    for (const auto& [name, tensor] : *group) {
      EXPECT_TRUE(at::equal(reader->LoadFloat(name), tensor)) << name;
    }
  }
}

TEST_F(SafetensorsWriterTest, ShardedWriterWritesOneFileUnderTheLimit) {
  ShardedSafetensorsWriter writer(dir_ / "out", "model", 1 << 20, {});
  writer.AddGroup({{"b", at::ones({3})}});
  writer.AddGroup({{"a", at::zeros({2})}});
  std::vector<ShardFile> files = writer.Finish();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].name, "model.safetensors");
  // Byte-identical to writing the same tensors at once.
  WrittenFile direct =
      WriteSafetensors(dir_ / "direct.safetensors",
                       {{"a", at::zeros({2})}, {"b", at::ones({3})}});
  EXPECT_EQ(files[0].file.sha256, direct.sha256);
}

TEST_F(SafetensorsWriterTest, AbandonedShardsAreRemoved) {
  {
    ShardedSafetensorsWriter writer(dir_ / "out", "model", 16, {});
    writer.AddGroup({{"a", at::ones({8})}});
    writer.AddGroup({{"b", at::ones({8})}});
    EXPECT_EQ(Entries(dir_ / "out").size(), 1u);
  }
  EXPECT_TRUE(Entries(dir_ / "out").empty());
  // A killed run's provisional shard is cleared by the next writer.
  std::ofstream(dir_ / "out/.model-00001.shard.tmp") << "stale";
  ShardedSafetensorsWriter writer(dir_ / "out", "model", 16, {});
  EXPECT_TRUE(Entries(dir_ / "out").empty());
}

}  // namespace
}  // namespace quantd::engine::exporting
