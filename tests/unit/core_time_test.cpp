#include "core/time.hpp"

#include <doctest/doctest.h>

using namespace vibe::core;

TEST_SUITE("core::time") {
  TEST_CASE("civil days round-trip through formatting") {
    CHECK(days_from_civil(1970, 1, 1) == 0);
    CHECK(days_from_civil(2000, 3, 1) == 11017);
    CHECK(days_from_civil(1969, 12, 31) == -1);
    CHECK(format_rfc3339(0) == "1970-01-01T00:00:00Z");
    CHECK(format_rfc3339(days_from_civil(2024, 2, 29) * 86400 * k_micros_per_second) == "2024-02-29T00:00:00Z");
    CHECK(format_rfc3339(-1) == "1969-12-31T23:59:59.999999Z");
  }

  TEST_CASE("fractions show only when present, and the seconds form drops them") {
    const UnixMicros t = 1'741'970'700'250'000;
    CHECK(format_rfc3339(t) == "2025-03-14T16:45:00.250000Z");
    CHECK(format_rfc3339_seconds(t) == "2025-03-14T16:45:00Z");
  }

  TEST_CASE("RFC 3339 input with zones, fractions and plain dates") {
    CHECK(*parse_rfc3339("2025-03-14T16:45:00Z") == 1'741'970'700'000'000);
    CHECK(*parse_rfc3339("2025-03-14T17:45:00+01:00") == 1'741'970'700'000'000);
    CHECK(*parse_rfc3339("2025-03-14 16:45:00.25Z") == 1'741'970'700'250'000);
    CHECK(*parse_rfc3339("2025-03-14") == 1'741'910'400'000'000);
  }

  TEST_CASE("malformed or impossible RFC 3339 is rejected") {
    for (const char* bad : {"", "2025", "2025-02-30", "2025-13-01", "2025-03-14T16:45:00", "2025-03-14T25:00:00Z",
                            "2025-03-14T16:45:00Zjunk", "yesterday", "2025-03-14T16:45:00.Z"}) {
      CAPTURE(bad);
      CHECK(!parse_rfc3339(bad));
    }
  }

  TEST_CASE("leap years") {
    CHECK(days_in_month(2024, 2) == 29);
    CHECK(days_in_month(1900, 2) == 28);
    CHECK(days_in_month(2000, 2) == 29);
    CHECK(parse_rfc3339("2024-02-29"));
    CHECK(!parse_rfc3339("2023-02-29"));
  }
}
