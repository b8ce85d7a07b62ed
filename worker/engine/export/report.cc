#include "worker/engine/export/report.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <utility>

namespace quantd::engine::exporting {
namespace {

constexpr char kMissing[] = "–";

// A number with 4 significant digits, or "–" for null / non-numbers.
std::string Figure(const nlohmann::json& value) {
  if (!value.is_number()) return kMissing;
  const double number = value.get<double>();
  if (!std::isfinite(number)) return kMissing;
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.4g", number);
  return buffer;
}

std::string Text(const nlohmann::json& object, const char* key) {
  if (!object.is_object() || !object.contains(key)) return kMissing;
  const nlohmann::json& value = object.at(key);
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return kMissing;
  return value.dump();
}

const nlohmann::json& Field(const nlohmann::json& object, const char* key) {
  static const nlohmann::json kNull;
  if (!object.is_object()) return kNull;
  auto found = object.find(key);
  return found == object.end() ? kNull : *found;
}

std::string Cell(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|')
      out += "\\|";
    else if (c == '\n')
      out += ' ';
    else
      out += c;
  }
  return out;
}

std::string Change(const nlohmann::json& fp, const nlohmann::json& q) {
  if (!fp.is_number() || !q.is_number() || fp.get<double>() == 0.0) {
    return "";
  }
  const double change = (q.get<double>() / fp.get<double>() - 1.0) * 100.0;
  if (!std::isfinite(change)) return "";
  char buffer[48];
  std::snprintf(buffer, sizeof(buffer), " (%+.2f %%)", change);
  return buffer;
}

std::string Summary(const nlohmann::json& report) {
  std::string md;
  const nlohmann::json& model = Field(report, "model");
  const nlohmann::json& result = Field(report, "result");
  const nlohmann::json& resources = Field(report, "resources");
  const nlohmann::json& fp = Field(result, "fp_value");
  const nlohmann::json& q = Field(result, "quantized_value");
  md += "| | |\n|---|---|\n";
  md += "| Model | " + Cell(Text(model, "path")) + " (" +
        Cell(Text(model, "architecture")) + ", " + Text(model, "blocks") +
        " blocks) |\n";
  md += "| Model sha256 | `" + Text(model, "sha256") + "` |\n";
  md += "| Method | " + Cell(Text(report, "method")) + " |\n";
  md += "| Scheme | " + Cell(Text(report, "scheme")) + " |\n";
  md += "| Metric | " + Cell(Text(result, "metric")) + " |\n";
  md += "| FP | " + Figure(fp) + " |\n";
  md += "| Quantized | " + Figure(q) + Change(fp, q) + " |\n";
  md += "| Evaluation | " + Text(result, "eval_tokens") +
        " tokens, windows of " + Text(result, "eval_seq_len") + " |\n";
  md += "| Wall time | " + Figure(Field(resources, "wall_seconds")) + " s |\n";
  const std::pair<const char*, const char*> memory[] = {
      {"Peak host memory", "peak_host_memory_bytes"},
      {"Peak device memory", "peak_device_memory_bytes"}};
  for (const auto& [label, key] : memory) {
    const nlohmann::json& value = Field(resources, key);
    md += std::string("| ") + label + " | " +
          (value.is_number_unsigned() ? HumanBytes(value.get<uint64_t>())
                                      : std::string(kMissing)) +
          " |\n";
  }
  md += "| Device | " + Cell(Text(resources, "device")) + " |\n";
  md += "| HF model weights | " + Cell(Text(report, "hf_model_weights")) +
        " |\n\n";
  return md;
}

std::string QuantizedLayers(const nlohmann::json& report) {
  std::string md;
  std::map<std::string, int> counts;
  int inexact = 0;
  for (const auto& [name, layer] : Field(report, "quantized_layers").items()) {
    ++counts[Text(Field(layer, "config"), "description")];
    if (Field(layer, "bit_exact").is_boolean() &&
        !Field(layer, "bit_exact").get<bool>()) {
      ++inexact;
    }
  }
  md += "## Quantized layers\n\n| weight quantizer | layers |\n|---|---|\n";
  for (const auto& [description, count] : counts) {
    md += "| " + Cell(description) + " | " + std::to_string(count) + " |\n";
  }
  std::map<std::string, int> activations;
  for (const auto& [name, entry] : Field(report, "activations").items()) {
    ++activations[Text(Field(entry, "config"), "description")];
  }
  if (!activations.empty()) {
    md += "\n| activation quantizer | sites |\n|---|---|\n";
    for (const auto& [description, count] : activations) {
      md += "| " + Cell(description) + " | " + std::to_string(count) + " |\n";
    }
  }
  if (inexact > 0) {
    md += "\n**Warning:** " + std::to_string(inexact) +
          " packed layers do not dequantize bit-exactly to the model's "
          "weights (see quant_config.json).\n";
  }
  md += "\n";
  return md;
}

std::string Blocks(const nlohmann::json& report) {
  std::string md;
  md +=
      "## Blocks\n\n| block | seconds | layer | loss before | loss after | "
      "threshold | scale min | scale max | scale mean |\n"
      "|---|---|---|---|---|---|---|---|---|\n";
  for (const nlohmann::json& block : Field(report, "blocks")) {
    const std::string head = "| " + Text(block, "index") + " | " +
                             Figure(Field(block, "seconds")) + " | ";
    const nlohmann::json& figures = Field(block, "figures");
    if (!figures.is_array() || figures.empty()) {
      md += head + kMissing + " | | | | | | |\n";
      continue;
    }
    for (const nlohmann::json& f : figures) {
      md += head + Cell(Text(f, "name"));
      for (const char* key : {"loss_before", "loss_after", "threshold",
                              "scale_min", "scale_max", "scale_mean"}) {
        md += " | " + Figure(Field(f, key));
      }
      md += " |\n";
    }
  }
  md += "\n";
  return md;
}

std::string Ranges(const nlohmann::json& report) {
  std::string md;
  nlohmann::json ranges = nlohmann::json::array();
  for (const nlohmann::json& r : Field(report, "activation_ranges")) {
    if (Field(r, "plot").is_string()) ranges.push_back(r);
  }
  if (ranges.empty()) return md;
  md +=
      "## Activation ranges (sites with the strongest outliers)\n\n"
      "| site | channels | max abs before | max abs after | outlier ratio "
      "before | outlier ratio after |\n|---|---|---|---|---|---|\n";
  for (const nlohmann::json& r : ranges) {
    md += "| " + Cell(Text(r, "name")) + " | " + Text(r, "channels") + " | " +
          Figure(Field(r, "before_absmax")) + " | " +
          Figure(Field(r, "after_absmax")) + " | " +
          Figure(Field(r, "before_outlier_ratio")) + " | " +
          Figure(Field(r, "after_outlier_ratio")) + " |\n";
  }
  md +=
      "\nOutlier ratio: the largest channel's max |x| over the median "
      "channel's.\n\n";
  for (const nlohmann::json& r : ranges) {
    md += "![" + Text(r, "name") + "](" + Text(r, "plot") + ")\n\n";
  }
  return md;
}

std::string Artifacts(const nlohmann::json& report) {
  std::string md;
  md += "## Artifacts\n\n| name | kind | size | sha256 |\n|---|---|---|---|\n";
  for (const nlohmann::json& a : Field(report, "artifacts")) {
    const nlohmann::json& size = Field(a, "size_bytes");
    md += "| " + Cell(Text(a, "name")) + " | " + Text(a, "kind") + " | " +
          (size.is_number_unsigned() ? HumanBytes(size.get<uint64_t>())
                                     : std::string(kMissing)) +
          " | `" + Text(a, "sha256") + "` |\n";
  }
  md += "\n";
  return md;
}

}  // namespace

std::string HumanBytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 4) {
    value /= 1024.0;
    ++unit;
  }
  char buffer[32];
  if (unit == 0) {
    std::snprintf(buffer, sizeof(buffer), "%llu B",
                  static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(buffer, sizeof(buffer), "%.1f %s", value, units[unit]);
  }
  return buffer;
}

std::string RenderReportMarkdown(const nlohmann::json& report) {
  return "# Quantization report\n\n" + Summary(report) +
         QuantizedLayers(report) + Blocks(report) + Ranges(report) +
         Artifacts(report);
}

}  // namespace quantd::engine::exporting
