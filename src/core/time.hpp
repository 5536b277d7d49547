#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vibe::core {

// Inside vibe every instant is UTC microseconds since the Unix epoch. Outside
// (output, config, JSON) it is RFC 3339.
using UnixMicros = std::int64_t;

constexpr UnixMicros k_micros_per_second = 1'000'000;

// Days since 1970-01-01 for a proleptic Gregorian civil date. Valid for any
// year representable in int; month 1..12, day 1..31 (not range-checked).
std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day);

// The current wall-clock time.
UnixMicros now_micros();

// "2025-03-14T16:45:00Z"; fractional seconds appear only when non-zero
// ("2025-03-14T16:45:00.250000Z"). Years outside 0..9999 are clamped.
std::string format_rfc3339(UnixMicros t);

// Same, always at second precision (fractions dropped, not rounded).
std::string format_rfc3339_seconds(UnixMicros t);

// Strict RFC 3339 / ISO 8601 for user input: "2025-03-14T16:45:00Z",
// "2025-03-14T16:45:00.5+01:00", "2025-03-14 16:45:00Z", or a date
// "2025-03-14" (midnight UTC). nullopt when malformed.
std::optional<UnixMicros> parse_rfc3339(std::string_view text);

// Source of the current time, so time-dependent code can be tested with a
// fake. Thread-safe.
class Clock {
public:
  virtual ~Clock() = default;
  virtual UnixMicros now() const = 0;
};

class SystemClock final : public Clock {
public:
  UnixMicros now() const override { return now_micros(); }
};

}  // namespace vibe::core

namespace vibe::core {

// 28..31 for a Gregorian year and month 1..12.
unsigned days_in_month(std::int64_t year, unsigned month);

}  // namespace vibe::core
