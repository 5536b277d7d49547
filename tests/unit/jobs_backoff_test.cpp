#include "jobs/backoff.hpp"

#include <doctest/doctest.h>

using namespace vibe::jobs;
using vibe::core::Millis;

TEST_SUITE("jobs::backoff") {
  TEST_CASE("the default is Oban's 15 + 2^attempt seconds") {
    Backoff b;
    CHECK(b.delay(1, 0.0) == Millis{17'000});
    CHECK(b.delay(2, 0.0) == Millis{19'000});
    CHECK(b.delay(5, 0.0) == Millis{47'000});
    CHECK(b.delay(10, 0.0) == Millis{1'039'000});
  }

  TEST_CASE("jitter adds up to 10 percent, never less than the base delay") {
    Backoff b;
    CHECK(b.delay(1, 0.999) > Millis{18'600});
    CHECK(b.delay(1, 0.999) <= Millis{18'700});
    CHECK(b.delay(1, 0.5) == Millis{17'850});
  }

  TEST_CASE("exponential, linear and fixed policies, capped at max") {
    Backoff exponential{Backoff::Kind::exponential, Millis{1'000}, Millis{10'000}, 0.0};
    CHECK(exponential.delay(1, 0) == Millis{1'000});
    CHECK(exponential.delay(3, 0) == Millis{4'000});
    CHECK(exponential.delay(10, 0) == Millis{10'000});
    Backoff linear{Backoff::Kind::linear, Millis{2'000}, Millis{60'000}, 0.0};
    CHECK(linear.delay(4, 0) == Millis{8'000});
    Backoff fixed{Backoff::Kind::fixed, Millis{3'000}, Millis{60'000}, 0.0};
    CHECK(fixed.delay(1, 0) == fixed.delay(9, 0));
  }

  TEST_CASE("absurd attempts do not overflow") {
    Backoff b;
    CHECK(b.delay(10'000, 0.0) == Millis{86'400'000});
    CHECK(b.delay(-3, 0.0) == Millis{17'000});
  }

  TEST_CASE("kinds parse by name") {
    CHECK(*parse_backoff_kind("linear") == Backoff::Kind::linear);
    CHECK(!parse_backoff_kind("sideways"));
  }
}
