#pragma once

#include "core/duration.hpp"
#include "core/time.hpp"

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

// The health of one source under `vibe serve`: supervision of crashes and a
// circuit breaker for failing polls. Pure logic on explicit times, so tests
// drive it with a fake clock.
namespace vibe::core {

struct HealthPolicy {
  std::int64_t max_restarts = 10;    // more restarts than this within `window`: failed
  Millis window{60'000};
  Millis backoff{1'000};             // first restart delay, doubled per restart in the window
  Millis backoff_max{60'000};
  std::int64_t breaker_failures = 5;  // consecutive failed polls that open the breaker
  Millis breaker_cooldown{300'000};
};

enum class Health { ok, backing_off, failed };

std::string_view health_name(Health health);

// What to do after a poll ended.
struct HealthDecision {
  enum class Next { regular, restart, probe, give_up } next = Next::regular;
  Millis delay{0};  // for restart and probe: how long to wait
};

class SourceHealth {
public:
  explicit SourceHealth(HealthPolicy policy = {}) : m_policy(policy) {}

  // The adapter threw (the source's worker died). `jitter` in [0, 1) spreads
  // restarts of many sources. Past max_restarts in the window: give_up, and
  // the source is failed until reset().
  HealthDecision crashed(UnixMicros now, std::string error, double jitter);
  // A poll failed (network, HTTP, parse). After breaker_failures in a row
  // the breaker opens: probe once after the cool-down.
  HealthDecision failed(std::string error);
  // A poll succeeded (new items or not modified): closes the breaker.
  void succeeded();
  // Forget failures: a reload changed the source, or its stream was started again.
  void reset();

  Health health() const;
  const std::string& last_error() const { return m_last_error; }
  std::int64_t restarts() const { return m_restarts_total; }
  std::int64_t consecutive_failures() const { return m_consecutive_failures; }
  bool breaker_open() const { return m_breaker_open; }

private:
  HealthPolicy m_policy;
  std::deque<UnixMicros> m_crashes;  // within the window
  std::int64_t m_restarts_total = 0;
  std::int64_t m_consecutive_failures = 0;
  bool m_breaker_open = false;
  bool m_restarting = false;
  bool m_failed = false;
  std::string m_last_error;
};

}  // namespace vibe::core
