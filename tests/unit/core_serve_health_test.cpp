#include "core/log.hpp"
#include "core/serve/health.hpp"

#include <doctest/doctest.h>

using namespace vibe::core;

namespace {

constexpr UnixMicros k_second = 1'000'000;

HealthPolicy policy() {
  HealthPolicy p;
  p.max_restarts = 10;
  p.window = Millis{60'000};
  p.backoff = Millis{1'000};
  p.backoff_max = Millis{8'000};
  p.breaker_failures = 3;
  p.breaker_cooldown = Millis{120'000};
  return p;
}

}  // namespace

TEST_SUITE("serve health") {
  TEST_CASE("the 11th crash within the window fails the source, after 10 restarts") {
    SourceHealth health{policy()};
    const UnixMicros t0 = 1'700'000'000 * k_second;
    for (int i = 0; i < 10; ++i) {
      const auto d = health.crashed(t0 + i * k_second, "boom", 0.0);
      CHECK(d.next == HealthDecision::Next::restart);
      CHECK(health.health() == Health::backing_off);
    }
    CHECK(health.restarts() == 10);
    const auto last = health.crashed(t0 + 10 * k_second, "boom 11", 0.0);
    CHECK(last.next == HealthDecision::Next::give_up);
    CHECK(health.health() == Health::failed);
    CHECK(health.last_error() == "boom 11");
    health.reset();
    CHECK(health.health() == Health::ok);
  }

  TEST_CASE("crashes spread over more than the window never fail the source") {
    SourceHealth health{policy()};
    const UnixMicros t0 = 1'700'000'000 * k_second;
    for (int i = 0; i < 40; ++i) {
      // One crash every 7 s: at most 9 in any 60 s window.
      CHECK(health.crashed(t0 + i * 7 * k_second, "boom", 0.5).next == HealthDecision::Next::restart);
    }
    CHECK(health.health() == Health::backing_off);
    health.succeeded();
    CHECK(health.health() == Health::ok);
  }

  TEST_CASE("restart delays double, are capped, and jitter only shortens them") {
    SourceHealth health{policy()};
    const UnixMicros t0 = 1'700'000'000 * k_second;
    CHECK(health.crashed(t0, "x", 0.0).delay == Millis{1'000});
    CHECK(health.crashed(t0 + 1, "x", 0.0).delay == Millis{2'000});
    CHECK(health.crashed(t0 + 2, "x", 0.0).delay == Millis{4'000});
    CHECK(health.crashed(t0 + 3, "x", 0.0).delay == Millis{8'000});
    CHECK(health.crashed(t0 + 4, "x", 0.0).delay == Millis{8'000});  // capped
    const auto jittered = health.crashed(t0 + 5, "x", 0.999).delay;
    CHECK(jittered < Millis{8'000});
    CHECK(jittered >= Millis{6'000});
  }

  TEST_CASE("the breaker opens after N failed polls in a row and a success closes it") {
    SourceHealth health{policy()};
    CHECK(health.failed("HTTP 500").next == HealthDecision::Next::regular);
    CHECK(health.health() == Health::ok);
    CHECK(health.failed("HTTP 500").next == HealthDecision::Next::regular);
    CHECK(health.health() == Health::backing_off);  // the second failure in a row spaces polls out
    const auto open = health.failed("HTTP 502");
    CHECK(open.next == HealthDecision::Next::probe);
    CHECK(open.delay == Millis{120'000});
    CHECK(health.breaker_open());
    CHECK(health.health() == Health::backing_off);
    // The probe fails: still open, another cool-down.
    CHECK(health.failed("HTTP 502").next == HealthDecision::Next::probe);
    health.succeeded();
    CHECK_FALSE(health.breaker_open());
    CHECK(health.consecutive_failures() == 0);
    CHECK(health.health() == Health::ok);
    CHECK(health.last_error().empty());
  }
}

TEST_SUITE("log") {
  TEST_CASE("lifecycle event names are recognised at the start of a message") {
    CHECK(log_event_name("stream.started stream=news") == "stream.started");
    CHECK(log_event_name("worker.died source=x error=boom") == "worker.died");
    CHECK(log_event_name("events.created") == "events.created");
    CHECK(log_event_name("polled source=x").empty());
    CHECK(log_event_name("Stream.started x").empty());
    CHECK(log_event_name(".started x").empty());
    CHECK(log_event_name("stream. x").empty());
    CHECK(log_event_name("").empty());
  }
}
