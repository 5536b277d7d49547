#include "core/duration.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cstdint>
#include <limits>

namespace vibe::core {

Result<Millis> parse_duration(std::string_view text) {
  if (text.empty()) {
    return fail(Errc::config, "empty duration (write e.g. 30s, 5m, 1h)");
  }
  std::int64_t total = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t start = pos;
    std::int64_t number = 0;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      if (number > std::numeric_limits<std::int64_t>::max() / 10 - 10) {
        return fail(Errc::config, fmt::format("duration '{}' is too large", text));
      }
      number = number * 10 + (text[pos] - '0');
      ++pos;
    }
    if (pos == start) {
      return fail(Errc::config, fmt::format("bad duration '{}' (write e.g. 30s, 5m, 1h)", text));
    }
    while (pos < text.size() && text[pos] == ' ') {
      ++pos;  // "5 m" reads as "5m"; "5 minutes" then names the unit it rejects
    }
    const std::size_t unit_start = pos;
    while (pos < text.size() && std::isalpha(static_cast<unsigned char>(text[pos]))) {
      ++pos;
    }
    const std::string_view unit = text.substr(unit_start, pos - unit_start);
    std::int64_t scale = 0;
    if (unit == "ms") {
      scale = 1;
    } else if (unit == "s") {
      scale = 1000;
    } else if (unit == "m") {
      scale = 60'000;
    } else if (unit == "h") {
      scale = 3'600'000;
    } else if (unit == "d") {
      scale = 86'400'000;
    } else if (unit.empty()) {
      return fail(Errc::config,
                  fmt::format("duration '{}' needs a unit: ms, s, m, h or d (e.g. {}s)", text, number));
    } else {
      return fail(Errc::config,
                  fmt::format("unknown unit '{}' in duration '{}' (use ms, s, m, h or d)", unit, text));
    }
    if (number > (std::numeric_limits<std::int64_t>::max() - total) / scale) {
      return fail(Errc::config, fmt::format("duration '{}' is too large", text));
    }
    total += number * scale;
  }
  return Millis{total};
}

std::string format_duration(Millis d) {
  std::int64_t ms = d.count();
  if (ms == 0) {
    return "0s";
  }
  std::string out;
  if (ms < 0) {
    out += '-';
    ms = -ms;
  }
  static constexpr struct {
    std::int64_t scale;
    const char* unit;
  } k_units[] = {{86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  for (const auto& u : k_units) {
    if (ms >= u.scale) {
      out += fmt::format("{}{}", ms / u.scale, u.unit);
      ms %= u.scale;
    }
  }
  return out;
}

}  // namespace vibe::core
