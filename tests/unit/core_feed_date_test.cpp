#include <doctest/doctest.h>
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/feed/date.hpp"
#include "fixtures.hpp"

namespace {

using vibe::core::feed::parse_date;

// What parse_date gives for `input`, as the fixtures write it: RFC 3339 UTC at
// second precision, or "null" when rejected.
std::string parsed(const std::string& input) {
  const auto t = parse_date(input);
  return t ? vibe::core::format_rfc3339_seconds(*t) : std::string{"null"};
}

std::string expected(const nlohmann::json& c) {
  return c["expect"].is_null() ? std::string{"null"} : c["expect"].get<std::string>();
}

nlohmann::json date_cases() {
  return nlohmann::json::parse(vibe::test::read_fixture("feeds/conformance/dates.json"));
}

}  // namespace

TEST_SUITE("core::feed::date") {
  TEST_CASE("every dates.json vector parses to its expected instant or is rejected") {
    for (const nlohmann::json& c : date_cases()) {
      const std::string input = c["input"].get<std::string>();
      SUBCASE(input.c_str()) {
        CHECK(parsed(input) == expected(c));
      }
    }
  }

  TEST_CASE("the dates.json pass rate is at least 95%") {
    const nlohmann::json cases = date_cases();
    std::size_t passed = 0;
    std::vector<std::string> failures;
    for (const nlohmann::json& c : cases) {
      const std::string input = c["input"].get<std::string>();
      const std::string got = parsed(input);
      if (got == expected(c)) {
        ++passed;
      } else {
        failures.push_back(fmt::format("  \"{}\": got {}, expected {}", input, got, expected(c)));
      }
    }
    fmt::print("dates: {} passed, {} failed\n", passed, failures.size());
    for (const std::string& f : failures) {
      fmt::print("{}\n", f);
    }
    REQUIRE(cases.size() == 53);
    CHECK(passed * 100 >= cases.size() * 95);
  }

  TEST_CASE("an input without a zone is UTC") {
    CHECK(parsed("Tue, 10 Jun 2003 04:19:00") == "2003-06-10T04:19:00Z");
    CHECK(parsed("2004-07-08T23:56") == "2004-07-08T23:56:00Z");
  }

  TEST_CASE("fractional seconds are kept to the microsecond") {
    const auto t = parse_date("2025-01-02T08:00:00.5Z");
    REQUIRE(t);
    CHECK(vibe::core::format_rfc3339(*t) == "2025-01-02T08:00:00.500000Z");
  }

  TEST_CASE("a mail-style comment after the offset is ignored") {
    CHECK(parsed("Tue, 10 Jun 2003 00:00:00 -0700 (PDT)") == "2003-06-10T07:00:00Z");
  }

  TEST_CASE("impossible or truncated dates are rejected, not guessed") {
    for (const char* input :
         {"", "   ", "Fri, 32 Foo 2025 99:99:99 XYZ", "sometime last week",
          "29 Feb 2023 10:00:00 GMT", "2023-02-29", "2023-13-01", "2023-1-01", "2023-01-01T",
          "2023-01-01T10", "10 Jun", "Jun 2003", "10 Jun 2003 04:00:00 XX",
          "10 Jun 2003 04:00:00 GMT GMT", "10 Jun 2003 2003", "+0000", "10 Jun 2003 24:00:00 GMT",
          "99999999999999999999-01-01"}) {
      CAPTURE(input);
      CHECK(parsed(input) == "null");
    }
  }
}
