#include "core/serve/health.hpp"

#include <algorithm>
#include <cmath>

namespace vibe::core {

std::string_view health_name(Health health) {
  switch (health) {
    case Health::ok: return "ok";
    case Health::backing_off: return "backing off";
    case Health::failed: return "failed";
  }
  return "?";
}

HealthDecision SourceHealth::crashed(UnixMicros now, std::string error, double jitter) {
  m_last_error = std::move(error);
  const UnixMicros window = m_policy.window.count() * 1000;
  while (!m_crashes.empty() && m_crashes.front() <= now - window) {
    m_crashes.pop_front();
  }
  m_crashes.push_back(now);
  // Each crash in the window asks for one restart; one more than allowed fails the source.
  if (static_cast<std::int64_t>(m_crashes.size()) > m_policy.max_restarts) {
    m_failed = true;
    m_restarting = false;
    return {HealthDecision::Next::give_up, Millis{0}};
  }
  ++m_restarts_total;
  m_restarting = true;
  // base * 2^(crashes in window - 1), capped, then jittered down by up to a quarter.
  const double exponent = static_cast<double>(std::min<std::size_t>(m_crashes.size() - 1, 30));
  const double base = static_cast<double>(m_policy.backoff.count()) * std::pow(2.0, exponent);
  const double capped = std::min(base, static_cast<double>(m_policy.backoff_max.count()));
  const double jittered = capped * (1.0 - 0.25 * std::clamp(jitter, 0.0, 1.0));
  return {HealthDecision::Next::restart, Millis{static_cast<std::int64_t>(jittered)}};
}

HealthDecision SourceHealth::failed(std::string error) {
  m_last_error = std::move(error);
  m_restarting = false;
  ++m_consecutive_failures;
  if (m_consecutive_failures >= m_policy.breaker_failures) {
    m_breaker_open = true;
    return {HealthDecision::Next::probe, m_policy.breaker_cooldown};
  }
  return {HealthDecision::Next::regular, Millis{0}};
}

void SourceHealth::succeeded() {
  m_consecutive_failures = 0;
  m_breaker_open = false;
  m_restarting = false;
  m_last_error.clear();
}

void SourceHealth::reset() {
  m_crashes.clear();
  m_consecutive_failures = 0;
  m_breaker_open = false;
  m_restarting = false;
  m_failed = false;
  m_last_error.clear();
}

Health SourceHealth::health() const {
  if (m_failed) {
    return Health::failed;
  }
  // From the second failed poll in a row, polls are spaced out (doubling).
  if (m_breaker_open || m_restarting || m_consecutive_failures >= 2) {
    return Health::backing_off;
  }
  return Health::ok;
}

}  // namespace vibe::core
