#include "worker/engine/export/report.h"

#include <gtest/gtest.h>

#include "contract/sha256.h"
#include "worker/engine/export/export_error.h"
#include "worker/engine/export/export_test_util.h"
#include "worker/engine/export/manifest.h"

namespace quantd::engine::exporting {
namespace {

namespace fs = std::filesystem;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(ReportTest, MarkdownSummarisesResultLayersBlocksAndArtifacts) {
  nlohmann::json report = {
      {"model", {{"path", "m.gguf"}, {"architecture", "llama"}, {"blocks", 2}}},
      {"method", "osplus"},
      {"scheme", "w4a16"},
      {"result",
       {{"metric", "perplexity"},
        {"fp_value", 10.0},
        {"quantized_value", 11.0},
        {"eval_tokens", 512},
        {"eval_seq_len", 256}}},
      {"resources",
       {{"wall_seconds", 3.5},
        {"peak_host_memory_bytes", 3u << 20},
        {"peak_device_memory_bytes", 0u},
        {"device", "cpu"}}},
      {"quantized_layers",
       {{"a", {{"config", {{"description", "int4 asym per_channel"}}}}},
        {"b",
         {{"config", {{"description", "int4 asym per_channel"}}},
          {"bit_exact", false}}}}},
      {"blocks",
       {{{"index", 0},
         {"seconds", 1.25},
         {"figures",
          {{{"name", "blocks.0.attn_in"},
            {"loss_before", 2.0},
            {"loss_after", nullptr}}}}}}},
      {"activation_ranges",
       {{{"name", "s0"},
         {"channels", 8},
         {"before_absmax", 40.0},
         {"plot", "plots/s0.svg"}},
        {{"name", "s1"}, {"channels", 8}}}},
      {"artifacts",
       {{{"name", "model/model.safetensors"},
         {"kind", "model"},
         {"size_bytes", 2048u},
         {"sha256", "ab"}}}}};
  const std::string md = RenderReportMarkdown(report);
  EXPECT_TRUE(Contains(md, "| FP | 10 |"));
  EXPECT_TRUE(Contains(md, "| Quantized | 11 (+10.00 %) |"));
  EXPECT_TRUE(Contains(md, "| Peak host memory | 3.0 MiB |"));
  EXPECT_TRUE(Contains(md, "| int4 asym per_channel | 2 |"));
  EXPECT_TRUE(Contains(md, "**Warning:** 1 packed layers"));
  EXPECT_TRUE(Contains(md, "| 0 | 1.25 | blocks.0.attn_in | 2 | – |"));
  EXPECT_TRUE(Contains(md, "![s0](plots/s0.svg)"));
  EXPECT_FALSE(Contains(md, "| s1 |"));
  EXPECT_TRUE(Contains(md, "| model/model.safetensors | model | 2.0 KiB |"));
  EXPECT_EQ(RenderReportMarkdown(nlohmann::json::object()).rfind("# ", 0), 0u);
}

TEST(ReportTest, HumanBytesUsesBinaryUnits) {
  EXPECT_EQ(HumanBytes(17), "17 B");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(uint64_t{3} << 30), "3.0 GiB");
}

TEST(ManifestTest, HashesFilesAndDirectoryContents) {
  const fs::path dir = testing::ScratchDir("manifest");
  fs::create_directories(dir / "model");
  WriteFileAtomically(dir / "model/config.json", "{}");
  WriteFileAtomically(dir / "model/b.bin", "bytes");
  WriteFileAtomically(dir / "model/.hidden", "x");
  WriteFileAtomically(dir / "data.txt", "text");
  nlohmann::json inputs =
      DescribeInputs({{"model", dir / "model", ""},
                      {"evaluation", dir / "data.txt", "known"}});
  ASSERT_EQ(inputs.size(), 3u);
  EXPECT_EQ(inputs[0]["path"], (dir / "model/b.bin").string());
  EXPECT_EQ(inputs[0]["sha256"], contract::Sha256FileHex(dir / "model/b.bin"));
  EXPECT_EQ(inputs[0]["size_bytes"], 5);
  EXPECT_EQ(inputs[1]["role"], "model");
  EXPECT_EQ(inputs[2]["sha256"], "known");
  EXPECT_THROW(DescribeInputs({{"spec", dir / "missing.json", ""}}),
               ExportError);

  ManifestInfo info{"1.2.3", 9, "cpu", {{"method", "rtn"}}, "cafe"};
  Artifact artifact{"report.json", "report",
                    WriteFileAtomically(dir / "report.json", "{}\n")};
  nlohmann::json manifest = ManifestJson(info, inputs, {artifact});
  EXPECT_EQ(manifest["engine_version"], "1.2.3");
  EXPECT_EQ(manifest["seed"], 9);
  EXPECT_EQ(manifest["libtorch_version"], LibTorchVersion());
  EXPECT_FALSE(LibTorchVersion().empty());
  EXPECT_EQ(manifest["outputs"][0]["sha256"],
            contract::Sha256FileHex(dir / "report.json"));
  EXPECT_EQ(manifest["spec"]["method"], "rtn");
  testing::RemoveScratch(dir);
}

}  // namespace
}  // namespace quantd::engine::exporting
