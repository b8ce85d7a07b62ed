// Small text helpers for lines written to a terminal or a log: stripping
// control characters from server-supplied text, fitting a line to a width,
// drawing a bar, and key=value quoting.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace quantd::client {

// Replaces every control character (C0, DEL, and the ESC of an ANSI
// sequence) with a space, so text from the server can neither move the
// cursor nor break a line.
std::string SanitizeText(absl::string_view text);

// Cuts `line` to at most `width` display columns (UTF-8 aware).
std::string FitToWidth(absl::string_view line, int width);

// "[=========>          ]" with `inner_width` cells between the brackets;
// fraction is clamped to 0..1.
std::string RenderBar(double fraction, int inner_width);

// `value` as is when it has no spaces, quotes or '=', else double-quoted
// with '"' and '\' escaped; sanitized either way.
std::string QuoteValue(absl::string_view value);

}  // namespace quantd::client
