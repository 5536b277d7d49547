#pragma once

#include "core/duration.hpp"
#include "core/error.hpp"

#include <cstdint>
#include <optional>
#include <random>
#include <string_view>

namespace vibe::jobs {

// When a failed attempt is retried. The default is Oban's: 15 + 2^attempt
// seconds. Every delay gets up to `jitter` (a fraction, default 10%) added at
// random so jobs that failed together do not retry together, and is capped
// at `max`.
struct Backoff {
  enum class Kind { oban, exponential, linear, fixed };
  Kind kind = Kind::oban;
  core::Millis base{15'000};    // exponential: base * 2^(attempt-1); linear: base * attempt; fixed: base
  core::Millis max{86'400'000};  // 24 h
  double jitter = 0.1;

  // The delay before retrying after failed attempt number `attempt` (1-based).
  // `unit` is a number in [0, 1) that scales the jitter.
  core::Millis delay(int attempt, double unit) const;
};

// For work that recurs on a schedule anyway (polls, pipeline runs): a failed
// attempt is retried soon (5 s, doubling) and not for long (at most 5 min
// apart), since the next regular run is coming.
inline Backoff recurring_work_backoff() {
  Backoff b;
  b.kind = Backoff::Kind::exponential;
  b.base = core::Millis{5'000};
  b.max = core::Millis{300'000};
  return b;
}

// Reads "exponential", "linear", "fixed" or "oban". Errors: Errc::usage.
core::Result<Backoff::Kind> parse_backoff_kind(std::string_view text);

// A thread-compatible source of jitter in [0, 1); one per thread.
class Jitter {
public:
  explicit Jitter(std::uint64_t seed) : m_engine(seed) {}
  double next() { return std::uniform_real_distribution<double>{0.0, 1.0}(m_engine); }

private:
  std::mt19937_64 m_engine;
};

}  // namespace vibe::jobs
