#include "core/cron.hpp"

#include "core/time.hpp"

#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

using namespace vibe::core;

namespace {

// The next `n` fire times after `from` (RFC 3339), as RFC 3339 UTC.
std::vector<std::string> fires(std::string_view expression, std::string_view zone, std::string_view from, int n) {
  auto schedule = CronSchedule::parse(expression, zone);
  REQUIRE_MESSAGE(schedule, (schedule ? "" : schedule.error().message));
  auto t = parse_rfc3339(from);
  REQUIRE(t);
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    const auto next = schedule->next_after(*t);
    REQUIRE(next);
    out.push_back(format_rfc3339(*next));
    t = next;
  }
  return out;
}

std::vector<std::string> fires_utc(std::string_view expression, std::string_view from, int n) {
  return fires(expression, "UTC", from, n);
}

std::string error_of(std::string_view expression, std::string_view zone = "UTC") {
  auto schedule = CronSchedule::parse(expression, zone);
  REQUIRE_FALSE(schedule);
  CHECK(schedule.error().code == Errc::config);
  return schedule.error().message;
}

using Times = std::vector<std::string>;

}  // namespace

// Calendar facts the expectations rely on: 2026-01-01 is a Thursday, so
// 2026-02-01, 2026-03-01 and 2026-03-08 are Sundays, 2026-04-01 a Wednesday,
// 2026-05-01 a Friday. New York: EST is UTC-5, EDT UTC-4; clocks jump
// 02:00->03:00 on 2026-03-08 (at 07:00Z) and 02:00->01:00 on 2026-11-01 (at
// 06:00Z). Berlin: CET UTC+1, CEST UTC+2; 02:00->03:00 on 2026-03-29 and
// 03:00->02:00 on 2026-10-25, both at 01:00Z.
TEST_SUITE("core::cron") {
  TEST_CASE("a step from * counts from the start of the field") {
    CHECK(fires_utc("*/15 * * * *", "2026-01-01T00:00:00Z", 4) ==
          Times{"2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z", "2026-01-01T00:45:00Z", "2026-01-01T01:00:00Z"});
  }

  TEST_CASE("the next fire time is strictly after the given instant") {
    CHECK(fires_utc("*/15 * * * *", "2026-01-01T00:15:00Z", 1) == Times{"2026-01-01T00:30:00Z"});
    CHECK(fires_utc("*/15 * * * *", "2026-01-01T00:14:59.500000Z", 1) == Times{"2026-01-01T00:15:00Z"});
  }

  TEST_CASE("ranges, stepped ranges and lists combine") {
    // 5-10/2 is 5,7,9; then 30.
    CHECK(fires_utc("5-10/2,30 * * * *", "2026-01-01T00:00:00Z", 5) ==
          Times{"2026-01-01T00:05:00Z", "2026-01-01T00:07:00Z", "2026-01-01T00:09:00Z", "2026-01-01T00:30:00Z",
                "2026-01-01T01:05:00Z"});
    // 9-17/4 is 9,13,17.
    CHECK(fires_utc("0 9-17/4 * * *", "2026-01-01T00:00:00Z", 4) ==
          Times{"2026-01-01T09:00:00Z", "2026-01-01T13:00:00Z", "2026-01-01T17:00:00Z", "2026-01-02T09:00:00Z"});
  }

  TEST_CASE("a/n runs from a to the end of the field") {
    // 10/20 is 10,30,50.
    CHECK(fires_utc("10/20 * * * *", "2026-01-01T00:00:00Z", 4) ==
          Times{"2026-01-01T00:10:00Z", "2026-01-01T00:30:00Z", "2026-01-01T00:50:00Z", "2026-01-01T01:10:00Z"});
  }

  TEST_CASE("month and weekday names work in any case and inside ranges") {
    // Only Jan-Mar and Dec, Monday to Friday: after Tue 2026-03-31 the next
    // such day is Tue 2026-12-01 (Jan 1 Thu + 334 days = Tue).
    const Times want{"2026-12-01T12:00:00Z", "2026-12-02T12:00:00Z"};
    CHECK(fires_utc("0 12 * jan-mar,dec mon-fri", "2026-03-31T12:00:00Z", 2) == want);
    CHECK(fires_utc("0 12 * JAN-Mar,Dec MON-Fri", "2026-03-31T12:00:00Z", 2) == want);
    CHECK(fires_utc("0 12 * 1-3,12 1-5", "2026-03-31T12:00:00Z", 2) == want);
  }

  TEST_CASE("day-of-week 7 is Sunday, like 0 and sun") {
    const Times sundays{"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"};
    CHECK(fires_utc("0 0 * * 7", "2026-01-01T00:00:00Z", 2) == sundays);
    CHECK(fires_utc("0 0 * * 0", "2026-01-01T00:00:00Z", 2) == sundays);
    CHECK(fires_utc("0 0 * * sun", "2026-01-01T00:00:00Z", 2) == sundays);
    // 5-7 is Friday, Saturday, Sunday.
    CHECK(fires_utc("0 0 * * 5-7", "2026-01-01T00:00:00Z", 4) ==
          Times{"2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-09T00:00:00Z"});
  }

  TEST_CASE("macros stand for their expressions") {
    const char* from = "2026-01-01T00:30:00Z";  // a Thursday
    CHECK(fires_utc("@hourly", from, 1) == Times{"2026-01-01T01:00:00Z"});
    CHECK(fires_utc("@daily", from, 1) == Times{"2026-01-02T00:00:00Z"});
    CHECK(fires_utc("@midnight", from, 1) == Times{"2026-01-02T00:00:00Z"});
    CHECK(fires_utc("@weekly", from, 1) == Times{"2026-01-04T00:00:00Z"});
    CHECK(fires_utc("@monthly", from, 1) == Times{"2026-02-01T00:00:00Z"});
    CHECK(fires_utc("@yearly", from, 1) == Times{"2027-01-01T00:00:00Z"});
    CHECK(fires_utc("@annually", from, 1) == Times{"2027-01-01T00:00:00Z"});
    CHECK(fires_utc("@DAILY", from, 1) == Times{"2026-01-02T00:00:00Z"});
  }

  TEST_CASE("Feb 29 fires in leap years only") {
    CHECK(fires_utc("0 0 29 2 *", "2025-03-01T00:00:00Z", 2) == Times{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"});
  }

  TEST_CASE("a rare date found decades ahead") {
    // Feb 29 that is a Sunday (*/7 is {0}, and starts with '*', so both day
    // fields must match). 2004-02-29 was a Sunday; each leap day falls 5
    // weekdays later than the one before (1461 days = 208 weeks + 5), so the
    // next Sundays are 2032 and 2060.
    CHECK(fires_utc("0 0 29 2 */7", "2025-01-01T00:00:00Z", 2) == Times{"2032-02-29T00:00:00Z",
                                                                        "2060-02-29T00:00:00Z"});
  }

  TEST_CASE("when both day fields are restricted, either one matching will do") {
    // April 2026: Fridays are 3, 10, 17, 24; the 13th is a Monday; May 1 is a Friday.
    CHECK(fires_utc("0 0 13 * 5", "2026-04-01T00:00:00Z", 6) ==
          Times{"2026-04-03T00:00:00Z", "2026-04-10T00:00:00Z", "2026-04-13T00:00:00Z", "2026-04-17T00:00:00Z",
                "2026-04-24T00:00:00Z", "2026-05-01T00:00:00Z"});
    // A day that can never occur does not make the expression invalid: Mondays in Feb.
    CHECK(fires_utc("0 0 30 2 mon", "2026-02-01T00:00:00Z", 2) == Times{"2026-02-02T00:00:00Z",
                                                                        "2026-02-09T00:00:00Z"});
  }

  TEST_CASE("when a day field starts with '*', both must match") {
    CHECK(fires_utc("0 0 13 * *", "2026-04-01T00:00:00Z", 2) == Times{"2026-04-13T00:00:00Z", "2026-05-13T00:00:00Z"});
    CHECK(fires_utc("0 0 * * 5", "2026-04-01T00:00:00Z", 2) == Times{"2026-04-03T00:00:00Z", "2026-04-10T00:00:00Z"});
    // Days 1, 11, 21, 31 that are Fridays: none in Jan-Apr 2026, then
    // Fri May 1 and Fri Jul 31 (June's Fridays are 5, 12, 19, 26).
    CHECK(fires_utc("0 0 */10 * 5", "2026-01-01T00:00:00Z", 2) == Times{"2026-05-01T00:00:00Z",
                                                                        "2026-07-31T00:00:00Z"});
    // */1 restricts nothing but still starts with '*': the 1st of each month, not every day.
    CHECK(fires_utc("0 0 1 * */1", "2026-01-01T00:00:00Z", 2) == Times{"2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"});
  }

  TEST_CASE("a time in the spring-forward gap fires once, at the end of the gap") {
    // New York, 2026-03-08: 02:30 does not exist; 03:00 EDT is 07:00Z. The
    // days around it: 02:30 EST = 07:30Z, 02:30 EDT = 06:30Z.
    CHECK(fires("30 2 * * *", "America/New_York", "2026-03-07T00:00:00Z", 3) ==
          Times{"2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"});
    // Berlin, 2026-03-29: 03:00 CEST is 01:00Z; the next day 02:30 CEST is 00:30Z.
    CHECK(fires("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", 2) ==
          Times{"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"});
  }

  TEST_CASE("several times in one gap fire once") {
    // 02:00, 02:15, 02:30 and 02:45 all fall in the gap; then 02:00 EDT = 06:00Z.
    CHECK(fires("*/15 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", 4) ==
          Times{"2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z", "2026-03-09T06:15:00Z", "2026-03-09T06:30:00Z"});
    // 02:00 and 02:30 (skipped) and 03:00 (real) all mean 07:00Z; 03:30 EDT is 07:30Z.
    CHECK(fires("0,30 2,3 * * *", "America/New_York", "2026-03-08T05:00:00Z", 2) ==
          Times{"2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z"});
  }

  TEST_CASE("a time in the fall-back overlap fires once, at its first occurrence") {
    // New York, 2026-11-01: 01:30 happens at 05:30Z (EDT) and again at 06:30Z
    // (EST). The next day 01:30 EST is 06:30Z.
    CHECK(fires("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", 2) ==
          Times{"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"});
    // Asked from between the two occurrences, the second is skipped too.
    CHECK(fires("30 1 * * *", "America/New_York", "2026-11-01T05:45:00Z", 1) == Times{"2026-11-02T06:30:00Z"});
    // Berlin, 2026-10-25: 02:30 CEST (first) is 00:30Z, 02:30 CET (repeat)
    // 01:30Z; the next day 02:30 CET is 01:30Z.
    CHECK(fires("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", 2) ==
          Times{"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"});
  }

  TEST_CASE("the repeated hour of a fall-back does not fire again") {
    // 01:45 EDT = 05:45Z; 01:00-01:59 EST (06:00Z-06:59Z) repeats times that
    // already fired; the next new local time is 02:00 EST = 07:00Z.
    CHECK(fires("*/15 * * * *", "America/New_York", "2026-11-01T05:40:00Z", 3) ==
          Times{"2026-11-01T05:45:00Z", "2026-11-01T07:00:00Z", "2026-11-01T07:15:00Z"});
  }

  TEST_CASE("local times convert with the zone's current offset") {
    // 09:00 EST (winter) is 14:00Z; 09:00 EDT (summer) is 13:00Z.
    CHECK(fires("0 9 * * *", "America/New_York", "2026-01-01T00:00:00Z", 1) == Times{"2026-01-01T14:00:00Z"});
    CHECK(fires("0 9 * * *", "America/New_York", "2026-07-01T00:00:00Z", 1) == Times{"2026-07-01T13:00:00Z"});
  }

  TEST_CASE("out-of-range values name the field and its range") {
    CHECK(error_of("61 * * * *") == "minute: 61 is out of range 0-59");
    CHECK(error_of("0 24 * * *") == "hour: 24 is out of range 0-23");
    CHECK(error_of("0 0 0 * *") == "day-of-month: 0 is out of range 1-31");
    CHECK(error_of("0 0 * 13 *") == "month: 13 is out of range 1-12");
    CHECK(error_of("0 0 * * 8") == "day-of-week: 8 is out of range 0-7");
    CHECK(error_of("99999999999 * * * *") == "minute: 99999999999 is out of range 0-59");
  }

  TEST_CASE("reversed ranges, bad steps and junk are errors") {
    CHECK(error_of("0 5-1 * * *") == "hour: range 5-1 is reversed (5 > 1)");
    CHECK(error_of("0 0 * * fri-mon") == "day-of-week: range fri-mon is reversed (5 > 1)");
    CHECK(error_of("*/0 * * * *") == "minute: step 0 in '*/0' is out of range 1-60");
    CHECK(error_of("*/61 * * * *") == "minute: step 61 in '*/61' is out of range 1-60");
    CHECK(error_of("*/x * * * *") == "minute: step 'x' in '*/x' is not a number");
    CHECK(error_of("x * * * *") == "minute: 'x' is not a number");
    CHECK(error_of("0 0 * foo *") == "month: 'foo' is not a month (1-12 or jan-dec)");
    CHECK(error_of("0 0 * * funday") == "day-of-week: 'funday' is not a weekday (0-7 or sun-sat)");
    CHECK(error_of("0 0 mon * *") == "day-of-month: 'mon' is not a number");
    CHECK(error_of("1,,2 * * * *") == "minute: empty item in list");
    CHECK(error_of("1-2-3 * * * *").find("minute: cannot read '1-2-3'") == 0);
    CHECK(error_of("*-5 * * * *").find("minute: cannot read '*-5'") == 0);
    CHECK(error_of("-5 * * * *").find("minute: cannot read '-5'") == 0);
    CHECK(error_of("1/2/3 * * * *") == "minute: '1/2/3' has more than one '/'");
  }

  TEST_CASE("a wrong number of fields, an empty expression or an unknown macro is an error") {
    CHECK(error_of("* * * *").find("'* * * *' has 4 fields; want 5") == 0);
    CHECK(error_of("0 * * * * *").find("has 6 fields") != std::string::npos);
    CHECK(error_of("   ").find("empty cron expression") == 0);
    CHECK(error_of("@reboot").find("unknown cron macro '@reboot'") == 0);
  }

  TEST_CASE("an expression that can never fire is an error") {
    CHECK(error_of("0 0 30 2 *").find("'0 0 30 2 *' can never fire") == 0);
    CHECK(error_of("0 0 31 4,6,9,11 *").find("'0 0 31 4,6,9,11 *' can never fire") == 0);
    CHECK(error_of("0 0 30 2 */2").find("can never fire") != std::string::npos);  // */2 starts with '*': AND
    CHECK(CronSchedule::parse("0 0 30-31 feb mon,wed"));  // both restricted: OR, so Feb's Mondays and Wednesdays
  }

  TEST_CASE("an unknown time zone is an error") {
    CHECK(error_of("0 0 * * *", "Mars/Base") == "unknown time zone 'Mars/Base'");
    CHECK(error_of("0 0 * * *", "../../etc/passwd") == "unknown time zone '../../etc/passwd'");
    CHECK(error_of("0 0 * * *", "/usr/share/zoneinfo/UTC") == "unknown time zone '/usr/share/zoneinfo/UTC'");
    CHECK(error_of("0 0 * * *", "localtime") == "unknown time zone 'localtime'");
  }

  TEST_CASE("expression and zone read back; an empty zone is UTC") {
    auto schedule = CronSchedule::parse("  */5 * * * *  ", "");
    REQUIRE(schedule);
    CHECK(schedule->expression() == "*/5 * * * *");
    CHECK(schedule->zone() == "UTC");
    auto berlin = CronSchedule::parse("@daily", "Europe/Berlin");
    REQUIRE(berlin);
    CHECK(berlin->expression() == "@daily");
    CHECK(berlin->zone() == "Europe/Berlin");
  }

  TEST_CASE("copies share the schedule and may be used from several threads") {
    auto parsed = CronSchedule::parse("*/7 * * * *", "America/New_York");
    REQUIRE(parsed);
    const UnixMicros start = *parse_rfc3339("2026-03-08T06:00:00Z");
    std::vector<UnixMicros> want;
    for (UnixMicros t = start; want.size() < 500;) {
      t = *parsed->next_after(t);
      want.push_back(t);
    }
    std::vector<std::vector<UnixMicros>> got(4);
    std::vector<std::thread> threads;
    for (auto& out : got) {
      threads.emplace_back([copy = *parsed, &out, start] {
        for (UnixMicros t = start; out.size() < 500;) {
          t = *copy.next_after(t);
          out.push_back(t);
        }
      });
    }
    for (auto& thread : threads) {
      thread.join();
    }
    for (const auto& out : got) {
      CHECK(out == want);
    }
  }
}
