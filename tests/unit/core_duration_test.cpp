#include "core/duration.hpp"

#include <doctest/doctest.h>

using namespace vibe::core;
using namespace std::chrono_literals;

TEST_SUITE("core::duration") {
  TEST_CASE("units and sums parse") {
    CHECK(*parse_duration("250ms") == 250ms);
    CHECK(*parse_duration("30s") == 30s);
    CHECK(*parse_duration("5m") == 5min);
    CHECK(*parse_duration("1h") == 1h);
    CHECK(*parse_duration("1d") == 24h);
    CHECK(*parse_duration("1h30m") == 90min);
    CHECK(*parse_duration("0s") == 0ms);
  }

  TEST_CASE("a number without a unit, an unknown unit or junk is an error") {
    CHECK(parse_duration("5").error().message.find("needs a unit") != std::string::npos);
    CHECK(parse_duration("5 minutes").error().message.find("unknown unit") != std::string::npos);
    CHECK(!parse_duration(""));
    CHECK(!parse_duration("m"));
    CHECK(!parse_duration("-5s"));
    CHECK(!parse_duration("99999999999999999999d"));
  }

  TEST_CASE("format gives the shortest spelling that parses back") {
    CHECK(format_duration(90min) == "1h30m");
    CHECK(format_duration(250ms) == "250ms");
    CHECK(format_duration(0ms) == "0s");
    for (Millis d : {Millis{1}, Millis{1500}, Millis{61'000}, Millis{25 * 3'600'000}}) {
      CHECK(*parse_duration(format_duration(d)) == d);
    }
  }
}
