// The job report: report.json is assembled by the Exporter (see
// exporter.h for its fields); RenderReportMarkdown turns it into
// report.md, a human-readable summary: the result table (FP versus
// quantized metric, time, memory), the quantizer configurations and how
// many layers use each, per-block figures, the activation-range summary
// of the worst sites with their plots, and the artifact list.
//
// Plain functions; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace quantd::engine::exporting {

// Renders report.json's document as Markdown. Missing fields are shown as
// "–"; never throws for a well-typed document.
std::string RenderReportMarkdown(const nlohmann::json& report);

// "1.5 GiB", "312 KiB", "17 B".
std::string HumanBytes(uint64_t bytes);

}  // namespace quantd::engine::exporting
