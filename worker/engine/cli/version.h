// The engine's version, reported by `quantd-engine version`, `probe` and in
// every manifest.
#pragma once

namespace quantd::engine::cli {

inline constexpr char kEngineVersion[] = "0.1.0";

}  // namespace quantd::engine::cli
