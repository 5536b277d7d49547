#pragma once

#include "core/error.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace vibe::core {

using Millis = std::chrono::milliseconds;

// Parses "250ms", "30s", "5m", "1h", "2d" and sums like "1h30m". A bare number
// is rejected (the unit is required, so "5" is never silently 5 ms). Errors
// (Errc::config) describe the problem without location; callers add it.
Result<Millis> parse_duration(std::string_view text);

// The shortest spelling that parse_duration reads back: "1h30m", "250ms", "0s".
std::string format_duration(Millis d);

}  // namespace vibe::core
